-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d). One database per service, each owned by its
-- own login role, as in production; the passwords are for the local compose
-- stack only (deploy/docker-compose.yml holds the matching DATABASE_URLs).
--
-- A new service with a database adds a role and a database here and its
-- DATABASE_URL in the compose file.

-- registry and credentials: owners of their databases (their
-- MIGRATE_DATABASE_URL; pg_trgm, which the registry's migrations create, is
-- a trusted extension: owners may create it; CREATEROLE for the writer
-- role the migrations create), and each service's own login (its
-- DATABASE_URL), confined to that writer role like the audit service's
-- below (docs/architecture.md, "Database roles").
CREATE ROLE agentidp_registry LOGIN CREATEROLE PASSWORD 'registry-dev';
CREATE DATABASE agentidp_registry OWNER agentidp_registry;
CREATE ROLE agentidp_registry_app LOGIN PASSWORD 'registry-app-dev';
GRANT CONNECT ON DATABASE agentidp_registry TO agentidp_registry_app;

CREATE ROLE agentidp_credentials LOGIN CREATEROLE PASSWORD 'credentials-dev';
CREATE DATABASE agentidp_credentials OWNER agentidp_credentials;
CREATE ROLE agentidp_credentials_app LOGIN PASSWORD 'credentials-app-dev';
GRANT CONNECT ON DATABASE agentidp_credentials TO agentidp_credentials_app;

-- audit: its first migration creates the NOLOGIN role agentidp_audit_writer
-- that its queries run as (docs/audit.md), hence CREATEROLE; still not a
-- superuser, so the append-only triggers bind it.
CREATE ROLE agentidp_audit LOGIN CREATEROLE PASSWORD 'audit-dev';
CREATE DATABASE agentidp_audit OWNER agentidp_audit;
-- The audit service's own login (its DATABASE_URL; agentidp_audit above
-- is its MIGRATE_DATABASE_URL): not the owner and no member of it, so no
-- SET ROLE leads back to the owner; the owner grants it the writer role at
-- start-up (docs/audit.md, "Append-only").
CREATE ROLE agentidp_audit_app LOGIN PASSWORD 'audit-app-dev';
GRANT CONNECT ON DATABASE agentidp_audit TO agentidp_audit_app;

-- Nobody but a database's owner and its service's login connects to it.
REVOKE CONNECT ON DATABASE agentidp_registry, agentidp_credentials, agentidp_audit FROM PUBLIC;
