// Package bootstrap gives a fresh AgentIdP deployment its first platform
// admin: the agent and one credential, created idempotently, the secret
// handed to an Output exactly once.
//
// It talks to the registry and credentials services over their internal
// gRPC ports, not through the gateway: the gateway's policy needs an admin
// before it lets anyone register one. Every deployment runs the same code
// through `agentidp bootstrap` (make dev, the compose one-shot service, the
// Kubernetes Job, the Terraform task); docs/deploy.md walks through each.
//
// What a run does, in order (Run):
//
//  1. Find the platform admin: the agents of owner "platform" and type
//     "admin" labelled agentidp.dev/role=platform-admin. None at all: register
//     it with the idempotency key RequestID, so two runs at once register
//     one agent. Suspended or decommissioned: refuse (ErrRefused) unless
//     Force, which reactivates a suspended admin or registers a replacement
//     for a decommissioned one (its own idempotency key, derived from the
//     admin it replaces).
//  2. Find its credential. The Output already holds a secret that verifies
//     for the admin: nothing to do. The admin has no active credential (a
//     first run, a run that stopped between the two steps, or every
//     credential revoked): issue one. It has one whose secret the Output
//     does not hold: say so and issue nothing — the secret was handed over
//     when it was issued and is never shown again — unless Rotate (always
//     issue a new secret) or RotateIfMissing (issue one because this Output
//     lost it).
//  3. Issue: check that the Output can take the secret, create the
//     credential, hand the secret over, and only then revoke the admin's
//     other credentials (Rotate, RotateIfMissing). A hand-over that fails
//     revokes the new credential, so nothing half-done blocks a rerun. The
//     hand-over is a compare-and-set against what the Output held when the
//     run decided, so of several runs at once into one Output, one hands
//     its secret over and the others revoke theirs.
package bootstrap
