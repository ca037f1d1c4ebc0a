# bootstrap: the deployment's first platform admin (docs/deploy.md). A
# one-off task in the primary region, like db-init: `agentidp bootstrap`
# (the cli image) waits for the registry and credentials services, reaches
# them on their Cloud Map names (the gateway's policy needs an admin before
# it lets anyone register one), registers the admin and a credential, and
# writes the secret to your Vault, the secret store the services already
# use: KV v2 entry <vault_mount>/agentidp/bootstrap/platform-admin (output
# platform_admin_vault_path). Run it once after the first apply (output
# bootstrap_command); a rerun finds the entry holding a working secret and
# changes nothing. Its Vault token (vault_token_secrets["bootstrap"]) needs
# create, read and update on that entry only.
locals {
  bootstrap_path = "agentidp/bootstrap/platform-admin"

  bootstrap_env = {
    AGENTIDP_REGISTRY_ADDR    = "registry.${local.namespace}:${var.services.registry.port}"
    AGENTIDP_CREDENTIALS_ADDR = "credentials.${local.namespace}:${var.services.credentials.port}"
    # Handed over with the credential: the public URL (the tokens' issuer).
    AGENTIDP_URL = var.public_url
    VAULT_ADDR   = var.vault_addr
    VAULT_MOUNT  = var.vault_mount
    # Its mesh identity, bootstrap (mesh.tf).
    TLS_CERT_FILE = local.mesh_env.TLS_CERT_FILE
    TLS_KEY_FILE  = local.mesh_env.TLS_KEY_FILE
    TLS_CA_FILE   = local.mesh_env.TLS_CA_FILE
  }
  bootstrap_secrets = {
    VAULT_TOKEN = lookup(var.vault_token_secrets, "bootstrap", "")
  }
  # The services the bootstrap calls: their security groups admit it.
  bootstrap_calls = ["registry", "credentials"]
}

resource "aws_security_group" "bootstrap" {
  region      = local.primary
  name        = "${var.name}-bootstrap"
  description = "AgentIdP bootstrap task (egress only)"
  vpc_id      = var.network_ids[local.primary]
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "bootstrap" {
  region            = local.primary
  security_group_id = aws_security_group.bootstrap.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_ingress_rule" "bootstrap" {
  for_each                     = toset(local.bootstrap_calls)
  region                       = local.primary
  security_group_id            = aws_security_group.service["${local.primary}/${each.key}"].id
  referenced_security_group_id = aws_security_group.bootstrap.id
  ip_protocol                  = "tcp"
  from_port                    = var.services[each.key].port
  to_port                      = var.services[each.key].port
  description                  = "bootstrap calls ${each.key}"
}

resource "aws_cloudwatch_log_group" "bootstrap" {
  region            = local.primary
  name              = "/${var.name}/bootstrap"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_ecs_task_definition" "bootstrap" {
  region                   = local.primary
  family                   = "${var.name}-bootstrap"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
  volume {
    name = "mesh"
  }
  container_definitions = jsonencode([merge(local.mesh_writer["${local.primary}/bootstrap"], {
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.bootstrap.name
        "awslogs-region"        = local.primary
        "awslogs-stream-prefix" = "mesh-certs"
      }
    }
    }), {
    name                   = "bootstrap"
    image                  = "${var.image_registry}/cli:${var.image_tag}"
    essential              = true
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    command                = ["bootstrap", "--output", "vault=agentidp/bootstrap/platform-admin"]
    environment            = [for k, v in local.bootstrap_env : { name = k, value = v }]
    secrets                = [for k, v in local.bootstrap_secrets : { name = k, valueFrom = v }]
    mountPoints            = [local.mesh_mount]
    dependsOn              = [local.mesh_depends]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.bootstrap.name
        "awslogs-region"        = local.primary
        "awslogs-stream-prefix" = "bootstrap"
      }
    }
  }])
  lifecycle {
    precondition {
      condition     = local.bootstrap_secrets.VAULT_TOKEN != ""
      error_message = "vault_token_secrets has no \"bootstrap\" entry: the Vault token the bootstrap task writes the first admin's credential with (docs/deploy.md)."
    }
  }
  tags = var.tags
}
