-- +goose Up
-- Client credentials of agents. Phase 1 kept each secret as a bcrypt hash.
-- credential_id is a UUID (v7 since phase 2: ordered by creation, so the
-- primary key is also the pagination key).
CREATE TABLE credentials (
    credential_id uuid        PRIMARY KEY,
    agent_id      uuid        NOT NULL,
    secret_hash   text        NOT NULL,
    status        text        NOT NULL DEFAULT 'active',
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    CONSTRAINT credentials_status_check CHECK (status IN ('active', 'revoked')),
    CONSTRAINT credentials_revoked_at_check CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

-- An agent's credentials, in id order (listing, legacy verification,
-- revoking all on decommission).
CREATE INDEX credentials_agent_idx ON credentials (agent_id, credential_id);

-- +goose Down
DROP TABLE credentials;
