-- +goose Up
-- Owners are tenants: each event belongs to the owner of the agent it
-- concerns, and a caller without platform:admin reads only its own owner's
-- events. Events recorded before, and platform events (policy reloads,
-- retention), have none: only the platform reads them.
ALTER TABLE audit_events ADD COLUMN owner text NOT NULL DEFAULT '';
CREATE INDEX audit_events_owner_idx ON audit_events (owner, occurred_at DESC, sequence DESC);

-- The chain's canonical encoding with the owner (version 2, used exactly
-- when the event has one; ChainHash in internal/audit/chain.go).
-- +goose StatementBegin
CREATE FUNCTION audit_event_hash(
    prev bytea, seq bigint, id uuid, occurred timestamptz, recorded timestamptz,
    actor text, action text, target text, agent_id uuid, outcome text,
    request_id text, source_address text, details jsonb, owner text
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN owner = '' THEN
        audit_event_hash(prev, seq, id, occurred, recorded, actor, action, target, agent_id, outcome,
                         request_id, source_address, details)
    ELSE sha256(
        prev || '\x02'::bytea || int8send(seq) || uuid_send(id)
        || int8send((extract(epoch FROM occurred) * 1000000)::bigint)
        || int8send((extract(epoch FROM recorded) * 1000000)::bigint)
        || audit_str(actor) || audit_str(action) || audit_str(target)
        || audit_str(coalesce(agent_id::text, '')) || audit_str(outcome)
        || audit_str(request_id) || audit_str(source_address) || audit_str(owner)
        || int4send((SELECT count(*)::int FROM jsonb_object_keys(details)))
        || coalesce((SELECT string_agg(audit_str(key) || audit_str(value), ''::bytea
                                       ORDER BY convert_to(key, 'UTF8'))
                     FROM jsonb_each_text(details)), ''::bytea))
    END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION audit_event_hash(bytea, bigint, uuid, timestamptz, timestamptz, text, text, text, uuid, text, text, text, jsonb, text);
DROP INDEX audit_events_owner_idx;
ALTER TABLE audit_events DROP COLUMN owner;
