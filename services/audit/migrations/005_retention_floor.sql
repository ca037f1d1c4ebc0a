-- +goose Up
-- Retention has a floor the service's role cannot lower: before, the
-- SECURITY DEFINER function trusted its caller's cutoff, so the writer
-- could call audit_apply_retention(now(), now()) and drop every closed
-- month. Now the function itself refuses a cutoff younger than
-- audit_retention_policy.min_days (90 by default; the owner may change it,
-- the writer can only read it), measured on the database's clock.
CREATE TABLE audit_retention_policy (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    min_days  int NOT NULL CHECK (min_days >= 1)
);
INSERT INTO audit_retention_policy (min_days) VALUES (90);
REVOKE ALL ON audit_retention_policy FROM PUBLIC;
GRANT SELECT ON audit_retention_policy TO agentidp_audit_writer;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_apply_retention(cutoff timestamptz, now_ts timestamptz)
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
    floor_days int;
BEGIN
    -- The floor, on the database's clock: the caller's now_ts and cutoff
    -- are only believed when they ask for less.
    SELECT p.min_days INTO floor_days FROM audit_retention_policy p;
    IF cutoff > statement_timestamp() - make_interval(days => floor_days) THEN
        RAISE EXCEPTION 'retention cutoff % is less than the minimum of % days ago', cutoff, floor_days
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'audit_retention_policy.min_days is the floor; only the owner changes it';
    END IF;
    IF now_ts > statement_timestamp() + interval '1 hour' THEN
        RAISE EXCEPTION 'retention now_ts % is in the future', now_ts USING ERRCODE = 'invalid_parameter_value';
    END IF;
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

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_apply_retention(cutoff timestamptz, now_ts timestamptz)
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
DROP TABLE audit_retention_policy;
