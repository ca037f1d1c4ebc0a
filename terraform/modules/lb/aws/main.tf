# An internet-facing Application Load Balancer per region in front of Envoy:
# TLS 1.2+/1.3 with an ACM certificate, HTTP redirected to HTTPS, and (with a
# Route 53 zone) latency-based records so clients reach the nearest region,
# with health-checked failover to the others.
locals {
  issue_certificates = var.route53_zone_id != null
}

resource "aws_security_group" "this" {
  for_each    = toset(var.regions)
  region      = each.key
  name        = "${var.name}-lb"
  description = "AgentIdP load balancer: HTTPS from anywhere"
  vpc_id      = var.network_ids[each.key]
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each          = toset(var.regions)
  region            = each.key
  security_group_id = aws_security_group.this[each.key].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  for_each          = toset(var.regions)
  region            = each.key
  security_group_id = aws_security_group.this[each.key].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "redirected to HTTPS"
}

resource "aws_vpc_security_group_egress_rule" "envoy" {
  for_each          = toset(var.regions)
  region            = each.key
  security_group_id = aws_security_group.this[each.key].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
}

resource "aws_lb" "this" {
  for_each                   = toset(var.regions)
  region                     = each.key
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids[each.key]
  security_groups            = [aws_security_group.this[each.key].id]
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  tags                       = var.tags
}

resource "aws_acm_certificate" "this" {
  for_each          = local.issue_certificates ? toset(var.regions) : toset([])
  region            = each.key
  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags
  lifecycle {
    create_before_destroy = true
  }
}

# The validation record is the same in every region: create it once.
resource "aws_route53_record" "validation" {
  for_each = local.issue_certificates ? {
    for o in aws_acm_certificate.this[var.regions[0]].domain_validation_options : o.domain_name => o
  } : {}
  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  for_each                = aws_acm_certificate.this
  region                  = each.key
  certificate_arn         = each.value.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_lb_listener" "https" {
  for_each          = toset(var.regions)
  region            = each.key
  load_balancer_arn = aws_lb.this[each.key].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.issue_certificates ? aws_acm_certificate_validation.this[each.key].certificate_arn : var.certificate_arns[each.key]
  default_action {
    type             = "forward"
    target_group_arn = var.backends[each.key]
  }
  lifecycle {
    precondition {
      condition     = local.issue_certificates || contains(keys(var.certificate_arns), each.key)
      error_message = "No certificate for ${each.key}: set route53_zone_id, or certificate_arns for every region."
    }
  }
  tags = var.tags
}

resource "aws_lb_listener" "http" {
  for_each          = toset(var.regions)
  region            = each.key
  load_balancer_arn = aws_lb.this[each.key].arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
  tags = var.tags
}

# Latency-based routing with health evaluation: a region whose load balancer
# has no healthy target stops receiving clients.
resource "aws_route53_record" "api" {
  for_each       = local.issue_certificates ? toset(var.regions) : toset([])
  zone_id        = var.route53_zone_id
  name           = var.domain_name
  type           = "A"
  set_identifier = each.key
  latency_routing_policy {
    region = each.key
  }
  alias {
    name                   = aws_lb.this[each.key].dns_name
    zone_id                = aws_lb.this[each.key].zone_id
    evaluate_target_health = true
  }
}
