output "backends" {
  description = "Per region, what the load balancer sends traffic to: the target group ARN of Envoy in the gateway tasks."
  value       = { for r, tg in aws_lb_target_group.gateway : r => tg.arn }
}

output "services" {
  description = "Per region, per service: the ECS service ARN."
  value       = { for r in var.regions : r => { for name in keys(var.services) : name => aws_ecs_service.this["${r}/${name}"].id } }
}

output "gateway_config" {
  description = "The control plane's config file (endpoints by Cloud Map name)."
  value       = local.gateway_config
}

output "db_init_command" {
  description = "Run once after the first apply (and after adding a service with a database): creates the roles and databases."
  value = join(" ", [
    "aws ecs run-task --region ${local.primary}",
    "--cluster ${aws_ecs_cluster.this[local.primary].name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.db_init.family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.subnet_ids[local.primary])}],securityGroups=[${aws_security_group.db_init.id}],assignPublicIp=DISABLED}'",
  ])
}

output "bootstrap_command" {
  description = "Run once after the first apply (and after db_init_command): registers the first platform admin and writes its credential to Vault (platform_admin_vault_path). A rerun changes nothing."
  value = join(" ", [
    "aws ecs run-task --region ${local.primary}",
    "--cluster ${aws_ecs_cluster.this[local.primary].name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.bootstrap.family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.subnet_ids[local.primary])}],securityGroups=[${aws_security_group.bootstrap.id}],assignPublicIp=DISABLED}'",
  ])
}

output "platform_admin_vault_path" {
  description = "The Vault KV v2 entry (mount/path) the bootstrap writes the first platform admin's credential to: keys AGENTIDP_URL, AGENTIDP_CLIENT_ID, AGENTIDP_CLIENT_SECRET."
  value       = "${var.vault_mount}/${local.bootstrap_path}"
}

output "mesh_ca" {
  description = "The mesh CA certificate (PEM; its key stays in the state, agentidp/mesh-ca)."
  value       = module.mesh_ca.ca_pem
}
