// Package checks tests AgentIdP's deployment artifacts offline: the
// Dockerfile and .dockerignore, the compose files, the Kubernetes overlays
// and the Terraform modules, each against what the services' Go source says
// they read and serve. It has no code of its own outside its tests; its heavy
// dependencies (Kubernetes, kustomize, compose-spec, HCL) stay out of the
// service modules.
package checks
