-- +goose Up
-- The audit log: append-only, hash-chained, partitioned by month of
-- recorded_at (which never decreases along the chain, so every partition
-- holds a contiguous range of sequences and retention drops a prefix).

-- The role the service runs its queries as (SET through the connection's
-- "role" parameter): it may add events and read them, never change or
-- delete them. Roles belong to the whole cluster: create it once.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentidp_audit_writer') THEN
        CREATE ROLE agentidp_audit_writer NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another database's migration
END
$$;
-- +goose StatementEnd
-- The user that migrates (the DATABASE_URL's) assumes the role at connect.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT agentidp_audit_writer TO %I', current_user);
END
$$;
-- +goose StatementEnd

CREATE TABLE audit_events (
    sequence       bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    actor          text        NOT NULL,
    action         text        NOT NULL,
    target         text        NOT NULL DEFAULT '',
    agent_id       uuid,
    outcome        text        NOT NULL,
    request_id     text        NOT NULL DEFAULT '',
    source_address text        NOT NULL DEFAULT '',
    details        jsonb       NOT NULL DEFAULT '{}',
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL,
    PRIMARY KEY (sequence, recorded_at),
    CONSTRAINT audit_events_outcome_check CHECK (outcome IN ('success', 'failure', 'denied'))
) PARTITION BY RANGE (recorded_at);

-- The queries of GET /v1/audit/events: newest first by (occurred_at,
-- sequence), optionally for one agent, action, actor or outcome. Every
-- index costs ingest throughput, so outcomes get a partial index over the
-- rare ones (failure, denied; the query repeats its predicate so that the
-- planner uses it); "success" is most events and is filtered on the way.
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at DESC, sequence DESC);
CREATE INDEX audit_events_agent_idx ON audit_events (agent_id, occurred_at DESC, sequence DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, occurred_at DESC, sequence DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, occurred_at DESC, sequence DESC);
CREATE INDEX audit_events_unsuccessful_idx ON audit_events (occurred_at DESC, sequence DESC)
    WHERE outcome <> 'success';

-- Idempotency: each event id once. An index of the log, not the log: not
-- partitioned (a unique key on the log would have to include recorded_at),
-- pruned by retention with the partition it points into.
CREATE TABLE audit_event_ids (
    event_id    uuid PRIMARY KEY,
    sequence    bigint      NOT NULL,
    recorded_at timestamptz NOT NULL
);

-- The end of the chain, read and moved by every append under the append
-- lock. A cache of the log's last row; verify checks that they agree.
CREATE TABLE audit_chain_head (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence    bigint      NOT NULL,
    hash        bytea       NOT NULL,
    recorded_at timestamptz NOT NULL
);
INSERT INTO audit_chain_head (sequence, hash, recorded_at)
VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000', '1970-01-01T00:00:00Z');

-- Where the service is in each change feed it follows (libs/postgres's
-- FeedCursorTableSQL).
CREATE TABLE IF NOT EXISTS event_cursors (
    consumer text PRIMARY KEY,
    sequence bigint NOT NULL
);

-- Nobody edits the log: not even the owner without first disabling this.
-- +goose StatementBegin
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

REVOKE ALL ON audit_events, audit_event_ids, audit_chain_head, event_cursors FROM PUBLIC;
GRANT SELECT, INSERT ON audit_events, audit_event_ids TO agentidp_audit_writer;
GRANT SELECT, UPDATE ON audit_chain_head TO agentidp_audit_writer;
GRANT SELECT, INSERT, UPDATE ON event_cursors TO agentidp_audit_writer;

-- +goose Down
DROP TABLE event_cursors;
DROP TABLE audit_chain_head;
DROP TABLE audit_event_ids;
DROP TABLE audit_events;
DROP FUNCTION audit_refuse_change();
