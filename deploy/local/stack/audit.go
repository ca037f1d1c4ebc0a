package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	vault "github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// AuditLoginRole is the audit service's PostgreSQL login: not the owner of
// its database and member of nothing but the writer role the migrations
// create (docs/audit.md, "Append-only"). The owner (the stack's superuser)
// migrates through MIGRATE_DATABASE_URL.
const AuditLoginRole = "agentidp_audit"

// RegistryLoginRole and CredentialsLoginRole are those services'
// PostgreSQL logins, confined the same way (members of their writer role
// only; docs/architecture.md, "Database roles").
const (
	RegistryLoginRole    = "agentidp_registry"
	CredentialsLoginRole = "agentidp_credentials"
)

// AuditTransitKey is the Vault transit key that signs the audit chain's
// checkpoints (created by the audit service on first start).
const AuditTransitKey = "agentidp-audit-checkpoints"

// AuditCheckpointDir is the audit service's checkpoint sink
// (AUDIT_CHECKPOINT_DIR): checkpoints.jsonl in it.
func (s *Stack) AuditCheckpointDir() string {
	return filepath.Join(s.cfg.Dir, "data", "audit-checkpoints")
}

// prepareAudit creates the audit service's, the registry's and the
// credentials service's login roles and mounts Vault's transit engine (all
// idempotent: the stack's data survives restarts).
func (s *Stack) prepareAudit(ctx context.Context) (loginURL string, err error) {
	loginURL, err = testkit.CreateLoginRole(ctx, s.dbURLs["audit"], AuditLoginRole)
	if err != nil {
		return "", err
	}
	if s.registryLoginURL, err = testkit.CreateLoginRole(ctx, s.dbURLs["registry"], RegistryLoginRole); err != nil {
		return "", err
	}
	if s.credentialsLoginURL, err = testkit.CreateLoginRole(ctx, s.dbURLs["credentials"], CredentialsLoginRole); err != nil {
		return "", err
	}
	conf := vault.DefaultConfig()
	conf.Address = s.vault.Addr()
	client, err := vault.NewClient(conf)
	if err != nil {
		return "", err
	}
	client.SetToken(s.vault.RootToken)
	mounts, err := client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("vault: list mounts: %w", err)
	}
	if _, ok := mounts["transit/"]; !ok {
		err := client.Sys().MountWithContext(ctx, "transit", &vault.MountInput{Type: "transit"})
		if err != nil && !strings.Contains(err.Error(), "path is already in use") {
			return "", fmt.Errorf("vault: mount transit: %w", err)
		}
	}
	return loginURL, nil
}

// auditEnv is the audit service's database and checkpoint configuration.
func (s *Stack) auditEnv() []string {
	return []string{
		"DATABASE_URL=" + s.auditLoginURL,
		"MIGRATE_DATABASE_URL=" + s.dbURLs["audit"],
		// Checkpoints signed in Vault transit with the root token in local
		// development; production gives the service a token that may only
		// sign with this key and read it (docs/audit.md).
		"AUDIT_CHECKPOINT_TRANSIT_KEY=" + AuditTransitKey,
		"AUDIT_CHECKPOINT_VAULT_ADDR=" + s.vault.Addr(),
		"AUDIT_CHECKPOINT_VAULT_TOKEN=" + s.vault.RootToken,
		"AUDIT_CHECKPOINT_DIR=" + s.AuditCheckpointDir(),
	}
}
