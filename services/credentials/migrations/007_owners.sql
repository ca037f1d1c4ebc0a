-- +goose Up
-- Owners are tenants. The projection learns each agent's owner (callers of
-- another owner see neither the agent nor its credentials; tokens carry the
-- owner), and each event records whose audit log it belongs to.
ALTER TABLE agents ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE credential_events ADD COLUMN owner text NOT NULL DEFAULT '';
-- Rows projected before this column learn their owner as the registry's feed
-- is replayed from its start (ApplyAgent fills an empty owner from any
-- event, and a replayed decommissioning revokes nothing twice).
DELETE FROM event_cursors WHERE consumer = 'credentials';

-- +goose Down
ALTER TABLE credential_events DROP COLUMN owner;
ALTER TABLE agents DROP COLUMN owner;
