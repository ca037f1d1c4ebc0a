-- +goose Up
-- The chain's canonical encoding in SQL (the same as ChainHash in
-- internal/audit/chain.go; a test keeps them equal), so that retention can
-- record its own event in the chain inside the database.

-- A length-prefixed UTF-8 string.
-- +goose StatementBegin
CREATE FUNCTION audit_str(s text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT int4send(octet_length(convert_to(s, 'UTF8'))) || convert_to(s, 'UTF8')
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_event_hash(
    prev bytea, seq bigint, id uuid, occurred timestamptz, recorded timestamptz,
    actor text, action text, target text, agent_id uuid, outcome text,
    request_id text, source_address text, details jsonb
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(
        prev || '\x01'::bytea || int8send(seq) || uuid_send(id)
        || int8send((extract(epoch FROM occurred) * 1000000)::bigint)
        || int8send((extract(epoch FROM recorded) * 1000000)::bigint)
        || audit_str(actor) || audit_str(action) || audit_str(target)
        || audit_str(coalesce(agent_id::text, '')) || audit_str(outcome)
        || audit_str(request_id) || audit_str(source_address)
        || int4send((SELECT count(*)::int FROM jsonb_object_keys(details)))
        || coalesce((SELECT string_agg(audit_str(key) || audit_str(value), ''::bytea
                                       ORDER BY convert_to(key, 'UTF8'))
                     FROM jsonb_each_text(details)), ''::bytea))
$$;
-- +goose StatementEnd

-- A UUIDv7 for time t (version and variant bits set over a random v4).
-- +goose StatementBegin
CREATE FUNCTION audit_uuid_v7(t timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send((extract(epoch FROM t) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
        52, 1), 53, 1), 'hex')::uuid
$$;
-- +goose StatementEnd

-- Monthly partitions audit_events_YYYYMM (UTC) for the month of from_ts and
-- the next `months`. Runs as the owner: the service's role cannot create
-- tables.
-- +goose StatementBegin
CREATE FUNCTION audit_ensure_partitions(from_ts timestamptz, months int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET "TimeZone" = 'UTC' AS $$
DECLARE
    m timestamptz := date_trunc('month', from_ts);
    name text;
    created int := 0;
BEGIN
    IF months < 0 OR months > 120 THEN
        RAISE EXCEPTION 'months must be between 0 and 120';
    END IF;
    PERFORM pg_advisory_xact_lock(418581342581); -- partition maintenance
    FOR i IN 0..months LOOP
        name := 'audit_events_' || to_char(m, 'YYYYMM');
        IF to_regclass('public.' || name) IS NULL THEN
            EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_events FOR VALUES FROM (%L) TO (%L)',
                           name, m, m + interval '1 month');
            created := created + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END
$$;
-- +goose StatementEnd

-- Retention, the log's only deletion: drops every partition whose whole
-- month ended before cutoff, oldest first, and records each drop as an
-- audit.retention event in the chain (with the hash of the last dropped
-- event, which anchors the first event kept). Holds the append lock, so
-- the chain stays linear. now_ts is the caller's clock, as for appends.
-- +goose StatementBegin
CREATE FUNCTION audit_apply_retention(cutoff timestamptz, now_ts timestamptz)
RETURNS TABLE (partition_name text, events bigint, first_sequence bigint, last_sequence bigint, retention_sequence bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET "TimeZone" = 'UTC' AS $$
DECLARE
    part record;
    upper_bound timestamptz;
    head audit_chain_head;
    last_hash bytea;
    d jsonb;
    ev_id uuid;
    rec_at timestamptz;
    seq bigint;
    h bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342580); -- the append lock ("audit")
    FOR part IN
        SELECT c.relname::text AS name,
               to_date(right(c.relname::text, 6), 'YYYYMM')::timestamp AT TIME ZONE 'UTC' AS lower_bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.audit_events'::regclass AND c.relname ~ '^audit_events_[0-9]{6}$'
        ORDER BY c.relname
    LOOP
        upper_bound := part.lower_bound + interval '1 month';
        SELECT * INTO head FROM audit_chain_head;
        -- Never the partition that appends go to.
        EXIT WHEN upper_bound > cutoff OR upper_bound > now_ts OR upper_bound > head.recorded_at;

        EXECUTE format('SELECT count(*), min(sequence), max(sequence) FROM public.%I', part.name)
            INTO events, first_sequence, last_sequence;
        d := jsonb_build_object(
            'partition', part.name,
            'rangeStart', to_char(part.lower_bound, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'rangeEnd', to_char(upper_bound, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'cutoff', to_char(cutoff, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'events', events::text);
        IF events > 0 THEN
            EXECUTE format('SELECT hash FROM public.%I WHERE sequence = $1', part.name)
                INTO last_hash USING last_sequence;
            d := d || jsonb_build_object(
                'firstSequence', first_sequence::text,
                'lastSequence', last_sequence::text,
                'lastHash', encode(last_hash, 'hex'));
            EXECUTE format('DELETE FROM public.audit_event_ids WHERE event_id IN (SELECT event_id FROM public.%I)', part.name);
        END IF;
        EXECUTE format('DROP TABLE public.%I', part.name);

        seq := head.sequence + 1;
        rec_at := greatest(now_ts, head.recorded_at);
        ev_id := audit_uuid_v7(rec_at);
        h := audit_event_hash(head.hash, seq, ev_id, rec_at, rec_at, 'system', 'audit.retention',
                              'partition:' || part.name, NULL, 'success', '', '', d);
        INSERT INTO audit_events (sequence, event_id, occurred_at, recorded_at, actor, action, target,
                                  agent_id, outcome, request_id, source_address, details, prev_hash, hash)
        VALUES (seq, ev_id, rec_at, rec_at, 'system', 'audit.retention', 'partition:' || part.name,
                NULL, 'success', '', '', d, head.hash, h);
        INSERT INTO audit_event_ids (event_id, sequence, recorded_at) VALUES (ev_id, seq, rec_at);
        UPDATE audit_chain_head SET sequence = seq, hash = h, recorded_at = rec_at;
        partition_name := part.name;
        retention_sequence := seq;
        RETURN NEXT;
    END LOOP;
END
$$;
-- +goose StatementEnd

REVOKE EXECUTE ON FUNCTION audit_ensure_partitions(timestamptz, int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_apply_retention(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_ensure_partitions(timestamptz, int) TO agentidp_audit_writer;
GRANT EXECUTE ON FUNCTION audit_apply_retention(timestamptz, timestamptz) TO agentidp_audit_writer;

-- +goose Down
DROP FUNCTION audit_apply_retention(timestamptz, timestamptz);
DROP FUNCTION audit_ensure_partitions(timestamptz, int);
DROP FUNCTION audit_uuid_v7(timestamptz);
DROP FUNCTION audit_event_hash(bytea, bigint, uuid, timestamptz, timestamptz, text, text, text, uuid, text, text, text, jsonb);
DROP FUNCTION audit_str(text);
