# One global VPC with a subnet per region (Cloud Run's direct VPC egress),
# Cloud NAT with static addresses per region (to allowlist at Vault), and
# private services access so Cloud SQL and Memorystore get private IPs that
# every region's subnet reaches (a VPC spans regions: no peering needed).
resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
  routing_mode            = "GLOBAL"
}

resource "google_compute_subnetwork" "this" {
  for_each                 = toset(var.regions)
  project                  = var.project_id
  name                     = "${var.name}-${each.key}"
  region                   = each.key
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.subnet_cidrs[each.key]
  private_ip_google_access = true
}

resource "google_compute_router" "this" {
  for_each = toset(var.regions)
  project  = var.project_id
  name     = "${var.name}-${each.key}"
  region   = each.key
  network  = google_compute_network.this.id
}

resource "google_compute_address" "nat" {
  for_each = toset(var.regions)
  project  = var.project_id
  name     = "${var.name}-nat-${each.key}"
  region   = each.key
  labels   = var.labels
}

resource "google_compute_router_nat" "this" {
  for_each                           = toset(var.regions)
  project                            = var.project_id
  name                               = "${var.name}-${each.key}"
  region                             = each.key
  router                             = google_compute_router.this[each.key].name
  nat_ip_allocate_option             = "MANUAL_ONLY"
  nat_ips                            = [google_compute_address.nat[each.key].self_link]
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"
  subnetwork {
    name                    = google_compute_subnetwork.this[each.key].id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }
}

resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  address       = split("/", var.private_services_cidr)[0]
  prefix_length = tonumber(split("/", var.private_services_cidr)[1])
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "this" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}
