# db-init: creates each service's owner role and database, and its confined
# login (docs/architecture.md, "Database roles"), on the primary (RDS has no
# API for that), idempotently, from the MIGRATE_DATABASE_URL (owner) and
# DATABASE_URL (login) secrets.
# Run it once after the first apply, and again when a service with a database
# is added (the output db_init_command is the exact command).
locals {
  db_services = [for name, s in var.services : name if contains(s.stores, "postgres")]
}

resource "aws_security_group" "db_init" {
  region      = local.primary
  name        = "${var.name}-db-init"
  description = "AgentIdP db-init task (egress only)"
  vpc_id      = var.network_ids[local.primary]
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "db_init" {
  region            = local.primary
  security_group_id = aws_security_group.db_init.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_cloudwatch_log_group" "db_init" {
  region            = local.primary
  name              = "/${var.name}/db-init"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_ecs_task_definition" "db_init" {
  region                   = local.primary
  family                   = "${var.name}-db-init"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  container_definitions = jsonencode([{
    name       = "db-init"
    image      = "public.ecr.aws/docker/library/postgres:17-alpine"
    essential  = true
    entryPoint = ["sh", "-c"]
    command    = [file("${path.module}/db-init.sh")]
    environment = [
      { name = "PGSSLMODE", value = "require" },
      { name = "PGDATABASE", value = "postgres" },
    ]
    secrets = concat(
      [
        { name = "PGUSER", valueFrom = "${var.admin_secret}:username::" },
        { name = "PGPASSWORD", valueFrom = "${var.admin_secret}:password::" },
      ],
      [for name in local.db_services : { name = "DATABASE_URL_${upper(name)}", valueFrom = var.database_url_secrets[local.primary][name] }],
      [for name in local.db_services : { name = "MIGRATE_DATABASE_URL_${upper(name)}", valueFrom = var.migrate_database_url_secrets[local.primary][name] }],
    )
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.db_init.name
        "awslogs-region"        = local.primary
        "awslogs-stream-prefix" = "db-init"
      }
    }
  }])
  tags = var.tags
}
