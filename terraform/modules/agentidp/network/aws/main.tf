# One VPC per region: public subnets (load balancer, NAT) and private subnets
# (tasks, databases, Redis) in var.az_count zones, NAT for egress (Vault,
# image registries), and a peering from the primary region's VPC to each
# other one, because every region's services write to the primary database.
locals {
  primary = var.regions[0]

  # One entry per region and zone index, for subnets and NAT gateways.
  zones = merge([
    for r in var.regions : {
      for i in range(var.az_count) : "${r}/${i}" => { region = r, index = i }
    }
  ]...)
  nat_zones = { for k, z in local.zones : k => z if !var.single_nat_gateway || z.index == 0 }
  secondary = toset([for r in var.regions : r if r != local.primary])
}

data "aws_availability_zones" "this" {
  for_each = toset(var.regions)
  region   = each.key
  state    = "available"
}

resource "aws_vpc" "this" {
  for_each             = toset(var.regions)
  region               = each.key
  cidr_block           = var.vpc_cidrs[each.key]
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_internet_gateway" "this" {
  for_each = aws_vpc.this
  region   = each.key
  vpc_id   = each.value.id
  tags     = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# /20 subnets carved from the VPC block: public ones first, then private.
resource "aws_subnet" "public" {
  for_each                = local.zones
  region                  = each.value.region
  vpc_id                  = aws_vpc.this[each.value.region].id
  availability_zone       = data.aws_availability_zones.this[each.value.region].names[each.value.index]
  cidr_block              = cidrsubnet(var.vpc_cidrs[each.value.region], 4, each.value.index)
  map_public_ip_on_launch = false
  tags                    = merge(var.tags, { Name = "${var.name}-public-${each.key}", Tier = "public" })
}

resource "aws_subnet" "private" {
  for_each          = local.zones
  region            = each.value.region
  vpc_id            = aws_vpc.this[each.value.region].id
  availability_zone = data.aws_availability_zones.this[each.value.region].names[each.value.index]
  cidr_block        = cidrsubnet(var.vpc_cidrs[each.value.region], 4, 8 + each.value.index)
  tags              = merge(var.tags, { Name = "${var.name}-private-${each.key}", Tier = "private" })
}

resource "aws_route_table" "public" {
  for_each = aws_vpc.this
  region   = each.key
  vpc_id   = each.value.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[each.key].id
  }
  tags = merge(var.tags, { Name = "${var.name}-public-${each.key}" })
}

resource "aws_route_table_association" "public" {
  for_each       = local.zones
  region         = each.value.region
  subnet_id      = aws_subnet.public[each.key].id
  route_table_id = aws_route_table.public[each.value.region].id
}

resource "aws_eip" "nat" {
  for_each = local.nat_zones
  region   = each.value.region
  domain   = "vpc"
  tags     = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })
}

resource "aws_nat_gateway" "this" {
  for_each      = local.nat_zones
  region        = each.value.region
  subnet_id     = aws_subnet.public[each.key].id
  allocation_id = aws_eip.nat[each.key].id
  tags          = merge(var.tags, { Name = "${var.name}-${each.key}" })
  depends_on    = [aws_internet_gateway.this]
}

# One private route table per zone, through that zone's NAT gateway (or the
# region's only one).
resource "aws_route_table" "private" {
  for_each = local.zones
  region   = each.value.region
  vpc_id   = aws_vpc.this[each.value.region].id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this[var.single_nat_gateway ? "${each.value.region}/0" : each.key].id
  }
  tags = merge(var.tags, { Name = "${var.name}-private-${each.key}" })
}

resource "aws_route_table_association" "private" {
  for_each       = local.zones
  region         = each.value.region
  subnet_id      = aws_subnet.private[each.key].id
  route_table_id = aws_route_table.private[each.key].id
}

# Primary ⇄ secondary peering: services in every region reach the primary
# database (writes, change feeds) over private addresses.
resource "aws_vpc_peering_connection" "to_primary" {
  for_each    = local.secondary
  region      = local.primary
  vpc_id      = aws_vpc.this[local.primary].id
  peer_vpc_id = aws_vpc.this[each.key].id
  peer_region = each.key
  tags        = merge(var.tags, { Name = "${var.name}-${local.primary}-${each.key}" })
}

resource "aws_vpc_peering_connection_accepter" "secondary" {
  for_each                  = local.secondary
  region                    = each.key
  vpc_peering_connection_id = aws_vpc_peering_connection.to_primary[each.key].id
  auto_accept               = true
  tags                      = merge(var.tags, { Name = "${var.name}-${local.primary}-${each.key}" })
}

resource "aws_route" "primary_to_secondary" {
  for_each = merge([
    for s in local.secondary : {
      for k, z in local.zones : "${k}->${s}" => { zone = k, peer = s } if z.region == local.primary
    }
  ]...)
  region                    = local.primary
  route_table_id            = aws_route_table.private[each.value.zone].id
  destination_cidr_block    = var.vpc_cidrs[each.value.peer]
  vpc_peering_connection_id = aws_vpc_peering_connection.to_primary[each.value.peer].id
}

resource "aws_route" "secondary_to_primary" {
  for_each                  = { for k, z in local.zones : k => z if z.region != local.primary }
  region                    = each.value.region
  route_table_id            = aws_route_table.private[each.key].id
  destination_cidr_block    = var.vpc_cidrs[local.primary]
  vpc_peering_connection_id = aws_vpc_peering_connection.to_primary[each.value.region].id
  depends_on                = [aws_vpc_peering_connection_accepter.secondary]
}
