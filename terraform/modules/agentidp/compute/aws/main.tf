# The mesh on ECS Fargate, in every region: one ECS service per catalog
# entry, found by the others through Cloud Map DNS (<name>.agentidp.internal,
# one A record per task, so gRPC clients and the gateway's control plane
# balance over every task), and the gateway task (Envoy + control plane +
# a one-shot config writer) behind the load balancer's target group.
#
# Distroless images have no shell or HTTP client, so there are no container
# health checks: ECS replaces tasks that exit, the load balancer checks
# Envoy's /healthz, and Envoy health-checks every service endpoint over
# gRPC / HTTP /readyz (gateway/README.md).
locals {
  namespace = "agentidp.internal"
  primary   = var.regions[0]

  inputs = {
    public_url = var.public_url
  }
  vault_env = {
    VAULT_ADDR  = var.vault_addr
    VAULT_MOUNT = var.vault_mount
  }

  # What each service reads: the catalog's literals, its mesh certificate
  # files (mesh.tf), <DEP>_ADDR for every service it calls, Vault's address,
  # deployment inputs, and (gateway) its config file.
  env = {
    for name, s in var.services : name => merge(
      s.env,
      local.mesh_env,
      { for d in s.calls : "${upper(d)}_ADDR" => "${d}.${local.namespace}:${var.services[d].port}" },
      { for k, v in local.vault_env : k => v if contains(s.stores, "vault") },
      # The audit service's checkpoint signer, when configured (its own
      # Vault token: local.secrets).
      { for k, v in {
        AUDIT_CHECKPOINT_TRANSIT_KEY   = try(var.audit_checkpoint.transit_key, "")
        AUDIT_CHECKPOINT_TRANSIT_MOUNT = try(var.audit_checkpoint.transit_mount, "")
        AUDIT_CHECKPOINT_VAULT_ADDR    = var.vault_addr
      } : k => v if name == "audit" && var.audit_checkpoint != null },
      { for k, input in s.inputs : k => local.inputs[input] },
      { for k, v in { GATEWAY_CONFIG = var.gateway_config_path } : k => v if name == "gateway" },
      # authz fetches the token service's keys directly (not through Envoy),
      # over the mesh's mutual TLS (https: authz refuses http with TLS on).
      { for k, v in { JWKS_URL = "https://token.${local.namespace}:${var.services.token.port}/.well-known/jwks.json" } : k => v if contains(s.calls, "token") && name == "authz" },
    )
  }

  # Secrets injected by ECS from Secrets Manager, per region and service.
  secrets = {
    for r in var.regions : r => {
      for name, s in var.services : name => merge(
        # The confined login and, for the migrations, the owner
        # (docs/architecture.md, "Database roles").
        { for k, v in { DATABASE_URL = lookup(var.database_url_secrets[r], name, ""), MIGRATE_DATABASE_URL = lookup(var.migrate_database_url_secrets[r], name, "") } : k => v if contains(s.stores, "postgres") },
        { for k, v in { REDIS_URL = lookup(var.redis_url_secrets[r], name, "") } : k => v if contains(s.stores, "redis") },
        { for k, v in { VAULT_TOKEN = lookup(var.vault_token_secrets, name, "") } : k => v if contains(s.stores, "vault") },
        { for k, v in { AUDIT_CHECKPOINT_VAULT_TOKEN = try(var.audit_checkpoint.vault_token_secret, "") } : k => v if name == "audit" && var.audit_checkpoint != null },
      )
    }
  }

  # Who may call whom: from the catalog's calls, plus the gateway to every
  # routed service.
  callers = {
    for callee, s in var.services : callee => distinct(concat(
      [for caller, cs in var.services : caller if contains(cs.calls, callee)],
      s.routed ? ["gateway"] : [],
    )) if s.port != null
  }

  region_services = merge([
    for r in var.regions : { for name, s in var.services : "${r}/${name}" => merge(s, { region = r, name = name }) }
  ]...)
  edges = merge([
    for r in var.regions : merge([
      for callee, callers in local.callers : {
        for c in callers : "${r}/${c}->${callee}" => { region = r, caller = c, callee = callee }
      }
    ]...)
  ]...)

  gateway_config = yamlencode({
    listener = { address = "0.0.0.0", port = var.envoy.port }
    services = {
      for name, s in var.services : name => { endpoints = ["${name}.${local.namespace}:${s.port}"] } if s.routed
    }
  })

  image = { for name, s in merge(var.services, { envoy = var.envoy }) : name => "${var.image_registry}/${s.image}:${var.image_tag}" }

  # Fargate sizes: the gateway task holds Envoy and the control plane.
  task_size = {
    for name, s in var.services : name => name == "gateway"
    ? { cpu = 1024, memory = 2048 }
    : { cpu = s.cpu, memory = s.memory }
  }
}

data "aws_caller_identity" "this" {}

resource "aws_ecs_cluster" "this" {
  for_each = toset(var.regions)
  region   = each.key
  name     = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = var.tags
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  for_each    = toset(var.regions)
  region      = each.key
  name        = local.namespace
  description = "AgentIdP services (${each.key})"
  vpc         = var.network_ids[each.key]
  tags        = var.tags
}

resource "aws_service_discovery_service" "this" {
  for_each = { for k, v in local.region_services : k => v if v.port != null }
  region   = each.value.region
  name     = each.value.name
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this[each.value.region].id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = merge(local.region_services, { for r in var.regions : "${r}/envoy" => { region = r, name = "envoy" } })
  region            = each.value.region
  name              = "/${var.name}/${each.value.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# --- IAM: tasks pull images, write logs, read exactly their secrets ---------
resource "aws_iam_role" "execution" {
  name = "${var.name}-ecs-execution"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ecs-tasks.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "secrets" {
  name = "read-agentidp-secrets"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = ["secretsmanager:GetSecretValue"]
        Resource = distinct(concat(
          flatten([for r in var.regions : values(var.database_url_secrets[r])]),
          flatten([for r in var.regions : values(var.migrate_database_url_secrets[r])]),
          flatten([for r in var.regions : values(var.redis_url_secrets[r])]),
          values(var.vault_token_secrets),
          values(local.mesh_secret_of),
          var.audit_checkpoint == null ? [] : [var.audit_checkpoint.vault_token_secret],
          [var.admin_secret],
        ))
      },
      {
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = "*"
        Condition = { StringLike = { "kms:ViaService" = "secretsmanager.*.amazonaws.com" } }
      },
    ]
  })
}

# The services need no AWS API: an empty task role.
resource "aws_iam_role" "task" {
  name = "${var.name}-ecs-task"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.this.account_id } }
    }]
  })
  tags = var.tags
}

# --- security groups: each service reachable only by its callers -----------
resource "aws_security_group" "service" {
  for_each    = local.region_services
  region      = each.value.region
  name        = "${var.name}-${each.value.name}"
  description = "AgentIdP ${each.value.name}"
  vpc_id      = var.network_ids[each.value.region]
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "calls" {
  for_each                     = local.edges
  region                       = each.value.region
  security_group_id            = aws_security_group.service["${each.value.region}/${each.value.callee}"].id
  referenced_security_group_id = aws_security_group.service["${each.value.region}/${each.value.caller}"].id
  ip_protocol                  = "tcp"
  from_port                    = var.services[each.value.callee].port
  to_port                      = var.services[each.value.callee].port
  description                  = "${each.value.caller} calls ${each.value.callee}"
}

# The load balancer (public subnets of the same VPC) reaches Envoy.
resource "aws_vpc_security_group_ingress_rule" "lb" {
  for_each = merge([
    for r in var.regions : { for c in var.cidr_blocks[r] : "${r}/${c}" => { region = r, cidr = c } }
  ]...)
  region            = each.value.region
  security_group_id = aws_security_group.service["${each.value.region}/gateway"].id
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = var.envoy.port
  to_port           = var.envoy.port
  description       = "load balancer to Envoy"
}

# Out: PostgreSQL (possibly across the peering), Redis, Vault, image pulls.
resource "aws_vpc_security_group_egress_rule" "all" {
  for_each          = local.region_services
  region            = each.value.region
  security_group_id = aws_security_group.service[each.key].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

# --- the load balancer's target: Envoy in the gateway tasks ----------------
resource "aws_lb_target_group" "gateway" {
  for_each             = toset(var.regions)
  region               = each.key
  name                 = "${var.name}-gateway"
  port                 = var.envoy.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.network_ids[each.key]
  deregistration_delay = 15
  health_check {
    # Answered by Envoy itself once its listener is configured.
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 3
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
  tags = var.tags
}

# --- task definitions --------------------------------------------------------
resource "aws_ecs_task_definition" "this" {
  for_each                 = local.region_services
  region                   = each.value.region
  family                   = "${var.name}-${each.value.name}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.task_size[each.value.name].cpu
  memory                   = local.task_size[each.value.name].memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  dynamic "volume" {
    for_each = each.value.name == "gateway" ? ["gateway-config", "mesh"] : ["mesh"]
    content {
      name = volume.value
    }
  }

  container_definitions = jsonencode(concat(
    # Writes the mesh certificate files (mesh.tf), then exits.
    [merge(local.mesh_writer[each.key], {
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.this["${each.value.region}/${each.value.name}"].name
          "awslogs-region"        = each.value.region
          "awslogs-stream-prefix" = "mesh-certs"
        }
      }
    })],
    # The Go binary of this service (the control plane, for the gateway).
    [{
      name                   = each.value.name == "gateway" ? "control-plane" : each.value.name
      image                  = local.image[each.value.name]
      essential              = true
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      cpu                    = each.value.cpu
      memoryReservation      = each.value.memory / 2
      portMappings           = [for p in [each.value.port, each.value.admin_port] : { containerPort = p, protocol = "tcp" } if p != null]
      environment            = [for k, v in local.env[each.value.name] : { name = k, value = v }]
      secrets                = [for k, v in local.secrets[each.value.region][each.value.name] : { name = k, valueFrom = v }]
      stopTimeout            = 30
      mountPoints            = concat([local.mesh_mount], each.value.name == "gateway" ? [{ sourceVolume = "gateway-config", containerPath = dirname(var.gateway_config_path), readOnly = true }] : [])
      dependsOn              = concat([local.mesh_depends], each.value.name == "gateway" ? [{ containerName = "config-writer", condition = "SUCCESS" }] : [])
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.this["${each.value.region}/${each.value.name}"].name
          "awslogs-region"        = each.value.region
          "awslogs-stream-prefix" = each.value.name
        }
      }
    }],
    # The gateway task also runs Envoy and writes the control plane's config
    # file (Fargate has no config maps; the distroless images no shell).
    each.value.name != "gateway" ? [] : [
      {
        name                   = "config-writer"
        image                  = "public.ecr.aws/docker/library/busybox:1.37"
        essential              = false
        readonlyRootFilesystem = true
        entryPoint             = ["sh", "-c"]
        command                = ["printf '%s' \"$GATEWAY_YAML\" > ${var.gateway_config_path}"]
        environment            = [{ name = "GATEWAY_YAML", value = local.gateway_config }]
        mountPoints            = [{ sourceVolume = "gateway-config", containerPath = dirname(var.gateway_config_path), readOnly = false }]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.this["${each.value.region}/gateway"].name
            "awslogs-region"        = each.value.region
            "awslogs-stream-prefix" = "config-writer"
          }
        }
      },
      {
        name                   = "envoy"
        image                  = local.image["envoy"]
        essential              = true
        user                   = "65532:65532"
        readonlyRootFilesystem = true
        cpu                    = var.envoy.cpu
        memoryReservation      = var.envoy.memory / 2
        portMappings           = [{ containerPort = var.envoy.port, protocol = "tcp" }, { containerPort = var.envoy.stats_port, protocol = "tcp" }]
        # The control plane names the gateway's certificate files over SDS;
        # Envoy reads them itself.
        mountPoints = [local.mesh_mount]
        dependsOn   = [{ containerName = "control-plane", condition = "START" }, local.mesh_depends]
        stopTimeout = 30
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.this["${each.value.region}/envoy"].name
            "awslogs-region"        = each.value.region
            "awslogs-stream-prefix" = "envoy"
          }
        }
      },
    ],
  ))

  lifecycle {
    precondition {
      condition     = alltrue([for k, v in local.secrets[each.value.region][each.value.name] : v != ""])
      error_message = "${each.value.name} in ${each.value.region}: a secret is missing (database_url_secrets, migrate_database_url_secrets, redis_url_secrets or vault_token_secrets)."
    }
    precondition {
      condition     = contains(local.mesh_identities, each.value.name)
      error_message = "${each.value.name} has no mesh identity: add it to local.mesh_identities (mesh.tf) and libs/mtls."
    }
  }
  tags = var.tags
}

# --- services ---------------------------------------------------------------
resource "aws_ecs_service" "this" {
  for_each                          = local.region_services
  region                            = each.value.region
  name                              = each.value.name
  cluster                           = aws_ecs_cluster.this[each.value.region].id
  task_definition                   = aws_ecs_task_definition.this[each.key].arn
  launch_type                       = "FARGATE"
  desired_count                     = each.value.min
  health_check_grace_period_seconds = each.value.name == "gateway" ? 60 : null
  propagate_tags                    = "SERVICE"
  wait_for_steady_state             = false

  network_configuration {
    subnets          = var.subnet_ids[each.value.region]
    security_groups  = [aws_security_group.service[each.key].id]
    assign_public_ip = false
  }

  dynamic "service_registries" {
    for_each = each.value.port != null ? [aws_service_discovery_service.this[each.key].arn] : []
    content {
      registry_arn = service_registries.value
    }
  }

  dynamic "load_balancer" {
    for_each = each.value.name == "gateway" ? [aws_lb_target_group.gateway[each.value.region].arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = "envoy"
      container_port   = var.envoy.port
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # Application Auto Scaling owns the count (fixed-size services get min = max).
  lifecycle {
    ignore_changes = [desired_count]
  }
  tags = var.tags
}

resource "aws_appautoscaling_target" "this" {
  for_each           = local.region_services
  region             = each.value.region
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this[each.value.region].name}/${aws_ecs_service.this[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = { for k, v in local.region_services : k => v if v.max > v.min }
  region             = each.value.region
  name               = "${var.name}-${each.value.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    target_value       = 60
    scale_out_cooldown = 30
    scale_in_cooldown  = 300
  }
}
