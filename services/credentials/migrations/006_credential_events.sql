-- +goose Up
-- The service's transactional outbox (agentidp.credentials.v1.
-- CredentialEventsService): one row per committed change to a credential,
-- written in the same transaction as the change. Writers take a
-- transaction-level advisory lock right before inserting, so sequences
-- commit in order and a consumer reading "sequence > n" never skips a row
-- that commits later with a smaller sequence. Never a secret or a hash.
CREATE TABLE credential_events (
    sequence       bigserial   PRIMARY KEY,
    credential_id  uuid        NOT NULL REFERENCES credentials (credential_id),
    agent_id       uuid        NOT NULL,
    type           text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor          text        NOT NULL DEFAULT 'system',
    request_id     text        NOT NULL DEFAULT '',
    source_address text        NOT NULL DEFAULT '',
    CONSTRAINT credential_events_type_check CHECK (type IN ('created', 'rotated', 'revoked', 'grace_ended'))
);

-- A rotation with a grace period owes a "grace_ended" event once the
-- previous secret stops working; a sweeper emits it.
ALTER TABLE credentials ADD COLUMN grace_end_pending boolean NOT NULL DEFAULT false;
CREATE INDEX credentials_grace_end_idx ON credentials (previous_secret_expires_at) WHERE grace_end_pending;

-- Credentials that existed before the feed enter it as created (and revoked).
INSERT INTO credential_events (credential_id, agent_id, type, occurred_at)
SELECT credential_id, agent_id, 'created', created_at FROM credentials WHERE status <> 'pending' ORDER BY credential_id;
INSERT INTO credential_events (credential_id, agent_id, type, occurred_at)
SELECT credential_id, agent_id, 'revoked', revoked_at FROM credentials WHERE status = 'revoked' ORDER BY credential_id;
UPDATE credentials SET grace_end_pending = true
WHERE status = 'active' AND previous_secret_expires_at > now();

-- +goose Down
DROP INDEX credentials_grace_end_idx;
ALTER TABLE credentials DROP COLUMN grace_end_pending;
DROP TABLE credential_events;
