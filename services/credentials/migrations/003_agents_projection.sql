-- +goose Up
-- A projection of the registry's agents, fed by its change feed
-- (agentidp.registry.v1.AgentEventsService): verification reads an agent's
-- status and scopes here instead of calling the registry per request.
-- sequence is the feed position of the last event applied to the row, so a
-- replayed (older) event never overwrites a newer state.
CREATE TABLE agents (
    agent_id   uuid        PRIMARY KEY,
    status     text        NOT NULL,
    scopes     text[]      NOT NULL DEFAULT '{}',
    sequence   bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT agents_status_check CHECK (status IN ('active', 'suspended', 'decommissioned'))
);

-- The feed consumer's durable cursor (libs/postgres.FeedCursorTableSQL).
CREATE TABLE IF NOT EXISTS event_cursors (
    consumer text PRIMARY KEY,
    sequence bigint NOT NULL
);

-- +goose Down
DROP TABLE event_cursors;
DROP TABLE agents;
