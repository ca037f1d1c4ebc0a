-- +goose Up
-- Phase 2: secrets live in HashiCorp Vault KV v2. Postgres keeps where
-- (vault_path, mount included, and each version's KV version number) and
-- never the secret nor a hash of it. Rows written without Vault keep their
-- one-way hash in secret_hash; phase-1 bcrypt hashes stay verifiable, and a
-- rotation while Vault is configured moves a credential to Vault.
--
-- "pending": a credential or version whose Vault write may be in flight.
-- Readers never see it; the service's reconciler completes the undo of
-- anything pending for longer than PENDING_TIMEOUT.
ALTER TABLE credentials
    ADD COLUMN vault_path text,
    DROP CONSTRAINT credentials_status_check,
    ADD CONSTRAINT credentials_status_check CHECK (status IN ('pending', 'active', 'revoked'));

ALTER TABLE credential_secrets
    ADD COLUMN status        text NOT NULL DEFAULT 'active',
    ADD COLUMN vault_version bigint,
    ALTER COLUMN secret_hash DROP NOT NULL,
    ADD CONSTRAINT credential_secrets_status_check CHECK (status IN ('pending', 'active')),
    -- A committed version has exactly one verifier; a pending one none yet.
    ADD CONSTRAINT credential_secrets_verifier_check CHECK (
        CASE status
            WHEN 'active' THEN (secret_hash IS NULL) <> (vault_version IS NULL)
            ELSE secret_hash IS NULL AND vault_version IS NULL
        END);

-- The reconciler's scans.
CREATE INDEX credentials_pending_idx ON credentials (created_at) WHERE status = 'pending';
CREATE INDEX credential_secrets_pending_idx ON credential_secrets (created_at) WHERE status = 'pending';

-- +goose Down
-- Only possible while no credential lives in Vault.
DROP INDEX credential_secrets_pending_idx;
DROP INDEX credentials_pending_idx;
DELETE FROM credentials WHERE status = 'pending';
DELETE FROM credential_secrets WHERE status = 'pending';
ALTER TABLE credential_secrets
    DROP CONSTRAINT credential_secrets_verifier_check,
    DROP CONSTRAINT credential_secrets_status_check,
    ALTER COLUMN secret_hash SET NOT NULL,
    DROP COLUMN vault_version,
    DROP COLUMN status;
ALTER TABLE credentials
    DROP CONSTRAINT credentials_status_check,
    ADD CONSTRAINT credentials_status_check CHECK (status IN ('active', 'revoked')),
    DROP COLUMN vault_path;
