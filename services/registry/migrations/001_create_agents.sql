-- +goose Up
-- Agents. agent_id is a UUIDv7, so the primary key orders agents by
-- creation time and doubles as the keyset for pagination.
CREATE TABLE agents (
    agent_id          uuid PRIMARY KEY,
    name              text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    agent_type        text        NOT NULL,
    version           text        NOT NULL DEFAULT '',
    owner             text        NOT NULL,
    capabilities      text[]      NOT NULL DEFAULT '{}',
    scopes            text[]      NOT NULL DEFAULT '{}',
    deployment_env    text        NOT NULL DEFAULT '',
    metadata          jsonb       NOT NULL DEFAULT '{}',
    status            text        NOT NULL,
    revision          bigint      NOT NULL DEFAULT 1,
    -- Idempotency key of the create call, if the client sent one.
    create_request_id text        UNIQUE,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    decommissioned_at timestamptz,
    CONSTRAINT agents_status_check CHECK (status IN ('active', 'suspended', 'decommissioned')),
    CONSTRAINT agents_decommissioned_at_check
        CHECK ((status = 'decommissioned') = (decommissioned_at IS NOT NULL))
);

-- List filters walk these in primary-key order.
CREATE INDEX agents_status_idx ON agents (status, agent_id);
CREATE INDEX agents_owner_idx ON agents (owner, agent_id);
CREATE INDEX agents_agent_type_idx ON agents (agent_type, agent_id);

-- +goose Down
DROP TABLE agents;
