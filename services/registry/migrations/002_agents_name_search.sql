-- +goose Up
-- Case-insensitive substring search on names (ILIKE '%q%') uses a trigram
-- index. pg_trgm is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX agents_name_trgm_idx ON agents USING gin (lower(name) gin_trgm_ops);

-- +goose Down
DROP INDEX agents_name_trgm_idx;
