-- +goose Up
-- Who made each change and through which request, for the audit log.
ALTER TABLE agent_events
    ADD COLUMN actor          text NOT NULL DEFAULT 'system',
    ADD COLUMN request_id     text NOT NULL DEFAULT '',
    ADD COLUMN source_address text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE agent_events DROP COLUMN actor, DROP COLUMN request_id, DROP COLUMN source_address;
