-- +goose Up
-- Owners are tenants: every agent belongs to exactly one owner, and callers
-- see only their own owner's agents. An agent without one (none should
-- exist: owner was required) joins the default owner.
UPDATE agents SET owner = 'default' WHERE btrim(owner) = '';
ALTER TABLE agents ADD CONSTRAINT agents_owner_check CHECK (btrim(owner) <> '');

-- An idempotency key belongs to its owner: one owner's key must neither
-- reveal nor return another owner's agent.
ALTER TABLE agents DROP CONSTRAINT agents_create_request_id_key;
CREATE UNIQUE INDEX agents_owner_request_idx ON agents (owner, create_request_id);

-- When the agent was last suspended, kept after a reactivation: tokens
-- issued at or before it stay invalid. Agents suspended before this column
-- existed take their last update, which is no earlier than the suspension.
ALTER TABLE agents ADD COLUMN suspended_at timestamptz;
UPDATE agents SET suspended_at = updated_at WHERE status = 'suspended';

-- +goose Down
ALTER TABLE agents DROP COLUMN suspended_at;
DROP INDEX agents_owner_request_idx;
ALTER TABLE agents ADD CONSTRAINT agents_create_request_id_key UNIQUE (create_request_id);
ALTER TABLE agents DROP CONSTRAINT agents_owner_check;
