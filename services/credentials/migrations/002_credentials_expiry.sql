-- +goose Up
-- Optional lifetime, and the last successful verification (written in
-- batches, so it may lag by a few seconds).
ALTER TABLE credentials
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz;

-- +goose Down
ALTER TABLE credentials
    DROP COLUMN expires_at,
    DROP COLUMN last_used_at;
