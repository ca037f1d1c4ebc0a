-- +goose Up
-- The registry's transactional outbox: one row per committed change to an
-- agent, written in the same transaction as the change. Writers take a
-- transaction-level advisory lock before inserting, so sequences commit in
-- order and a consumer reading "sequence > n" can never skip a row that
-- commits later with a smaller sequence.
CREATE TABLE agent_events (
    sequence    bigserial PRIMARY KEY,
    agent_id    uuid        NOT NULL REFERENCES agents (agent_id),
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    CONSTRAINT agent_events_type_check
        CHECK (type IN ('registered', 'updated', 'suspended', 'reactivated', 'decommissioned'))
);

CREATE INDEX agent_events_agent_idx ON agent_events (agent_id, sequence);

-- Agents registered before the feed existed enter it as "registered", plus
-- their current lifecycle state.
INSERT INTO agent_events (agent_id, type, occurred_at)
SELECT agent_id, 'registered', created_at FROM agents ORDER BY agent_id;
INSERT INTO agent_events (agent_id, type, occurred_at)
SELECT agent_id, CASE status WHEN 'suspended' THEN 'suspended' ELSE 'decommissioned' END, updated_at
FROM agents WHERE status <> 'active' ORDER BY agent_id;

-- +goose Down
DROP TABLE agent_events;
