-- +goose Up
-- The role the credentials service's queries run as when it logs in as a
-- login role of its own (MIGRATE_DATABASE_URL set; docs/architecture.md,
-- "Database roles"): rows yes, schema no. The owner grants it to the service's login
-- at start-up. Roles belong to the whole cluster: create it once.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentidp_credentials_writer') THEN
        CREATE ROLE agentidp_credentials_writer NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another database's migration
END
$$;
-- +goose StatementEnd
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO agentidp_credentials_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO agentidp_credentials_writer;
-- Tables of later migrations too (they are created by the same owner).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agentidp_credentials_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO agentidp_credentials_writer;
-- The migrations' own bookkeeping is the owner's.
REVOKE ALL ON goose_db_version FROM agentidp_credentials_writer;

-- +goose Down
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM agentidp_credentials_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM agentidp_credentials_writer;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM agentidp_credentials_writer;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM agentidp_credentials_writer;
