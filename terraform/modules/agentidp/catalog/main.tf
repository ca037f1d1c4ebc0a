# The AgentIdP mesh as data, shared by every provider: which processes run,
# on which ports, what each reads from its environment, what it calls, and
# which stores it needs. Provider modules (compute/aws, compute/gcp) turn it
# into ECS services or Cloud Run containers; nothing here is provider-specific.
#
# This mirrors the services' Config structs. deploy/checks parses this file
# and the Go source and fails when they disagree (an unknown variable, a
# missing required one, a wrong port, a call not declared), so adding a
# service is one entry below, checked.
#
# Fields of each service:
#   image      image name (without registry or tag); the gateway runs two
#   port       the port the mesh calls (gRPC; HTTP for token); null if none
#   admin_port /metrics, /healthz, /readyz
#   protocol   "grpc" or "http" (how callers and the load balancer speak)
#   routed     the gateway routes public paths to it (gateway/internal/catalog)
#   calls      mesh services it dials; compute modules set <NAME>_ADDR
#   stores     "postgres" (DATABASE_URL), "redis" (REDIS_URL), "vault"
#              (VAULT_ADDR, VAULT_TOKEN, VAULT_MOUNT)
#   env        literal settings (listen addresses: 0.0.0.0 in containers)
#   inputs     settings taken from the deployment: variable => input name
#              ("public_url": the gateway's public base URL)
#   cpu/memory Fargate task units (1024 = 1 vCPU) and MiB; Cloud Run uses
#              them as container limits
#   min/max    replicas per region; autoscale on CPU when max > min
locals {
  services = {
    registry = {
      image      = "registry"
      port       = 9101
      admin_port = 9201
      protocol   = "grpc"
      routed     = true
      calls      = []
      stores     = ["postgres"]
      env = {
        GRPC_ADDR  = "0.0.0.0:9101"
        HTTP_ADDR  = "0.0.0.0:9201"
        LOG_FORMAT = "json"
      }
      inputs = {}
      cpu    = 256
      memory = 512
      min    = 2
      max    = 2
    }
    credentials = {
      image      = "credentials"
      port       = 9102
      admin_port = 9202
      protocol   = "grpc"
      routed     = true
      calls      = ["registry"]
      stores     = ["postgres", "vault"]
      env = {
        GRPC_ADDR  = "0.0.0.0:9102"
        HTTP_ADDR  = "0.0.0.0:9202"
        LOG_FORMAT = "json"
      }
      inputs = {}
      cpu    = 256
      memory = 512
      min    = 2
      max    = 2
    }
    audit = {
      image      = "audit"
      port       = 9104
      admin_port = 9204
      protocol   = "grpc"
      routed     = true
      calls      = ["registry", "credentials"]
      stores     = ["postgres", "redis"]
      env = {
        GRPC_ADDR  = "0.0.0.0:9104"
        HTTP_ADDR  = "0.0.0.0:9204"
        LOG_FORMAT = "json"
      }
      inputs = {}
      cpu    = 256
      memory = 1024
      min    = 2
      max    = 2
    }
    token = {
      image      = "token"
      port       = 9103
      admin_port = 9203
      protocol   = "http"
      routed     = true
      calls      = ["credentials", "registry"]
      stores     = ["redis", "vault"]
      env = {
        HTTP_ADDR  = "0.0.0.0:9103"
        ADMIN_ADDR = "0.0.0.0:9203"
        LOG_FORMAT = "json"
      }
      # The iss claim and the base of its RFC 8414 metadata.
      inputs = { ISSUER = "public_url" }
      cpu    = 512
      memory = 1024
      min    = 2
      max    = 20
    }
    # Envoy's ext_authz server: every API call but /oauth2/*, /.well-known/*,
    # /healthz and /readyz waits for its answer. Its state is rebuilt from
    # the registry's and credentials' change feeds; keys come from the token
    # service's JWKS (compute modules set JWKS_URL); the policy ships in its
    # image. "routed": the gateway has a cluster for it (the catalog's authz
    # row), though no public path leads to it.
    authz = {
      image      = "authz"
      port       = 9105
      admin_port = 9205
      protocol   = "grpc"
      routed     = true
      calls      = ["registry", "credentials", "token"]
      stores     = ["redis"]
      env = {
        GRPC_ADDR  = "0.0.0.0:9105"
        HTTP_ADDR  = "0.0.0.0:9205"
        POLICY_DIR = "/etc/agentidp/policies"
        LOG_FORMAT = "json"
      }
      # Must equal the token service's ISSUER: the iss claim it checks.
      inputs = { ISSUER = "public_url" }
      cpu    = 512
      memory = 512
      min    = 2
      max    = 20
    }
    # The xDS control plane; runs beside Envoy (one task / one instance), so
    # ADS stays on loopback. Envoy's image is "envoy" (gateway_sidecar).
    gateway = {
      image      = "gateway"
      port       = null
      admin_port = 18080
      protocol   = "grpc"
      routed     = false
      calls      = []
      stores     = []
      env = {
        XDS_ADDR      = "127.0.0.1:18000"
        HTTP_ADDR     = "0.0.0.0:18080"
        ENVOY_NODE_ID = "agentidp-gateway"
        LOG_FORMAT    = "json"
      }
      inputs = {}
      cpu    = 256
      memory = 512
      min    = 2
      max    = 10
    }
  }

  # Envoy, in the gateway's task or instance: its listener (the control
  # plane's config file says where) and its read-only stats listener.
  envoy = {
    image      = "envoy"
    port       = 8080
    stats_port = 9902
    cpu        = 512
    memory     = 512
  }

  # The control plane's config file path inside its container.
  gateway_config_path = "/etc/agentidp/gateway.yaml"
}
