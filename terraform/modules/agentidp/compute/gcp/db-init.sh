# Creates (or updates the password of) each service's confined login,
# agentidp_<service>_app, from DATABASE_URL_<SERVICE>, connecting as the
# database's owner (MIGRATE_DATABASE_URL_<SERVICE>, a Cloud SQL user with
# CREATEROLE): LOGIN only (no CREATEROLE, not the owner, member of nothing;
# the service refuses any other), with CONNECT on its database, which no one
# else has. The service's migrations make it a member of its writer role.
# Idempotent.
# (ALTER ROLE names no SUPERUSER or BYPASSRLS attribute: only a true
# superuser may, which neither RDS's master nor a Cloud SQL user is; the
# service refuses a login that has them anyway.)
set -eu
for var in $(env | sed -n 's/^\(DATABASE_URL_[A-Z_]*\)=.*/\1/p'); do
  owner_url=$(printenv "MIGRATE_$var")
  rest=$(printenv "$var")
  rest=${rest#*://}
  userpass=${rest%%@*}
  user=${userpass%%:*}
  pass=${userpass#*:}
  db=${rest##*/}
  db=${db%%\?*}
  echo "db-init: login $user, database $db"
  psql "$owner_url" -v ON_ERROR_STOP=1 -q <<SQL
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', '$user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user')\gexec
ALTER ROLE "$user" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$pass';
REVOKE CONNECT ON DATABASE "$db" FROM PUBLIC;
GRANT CONNECT ON DATABASE "$db" TO "$user";
SQL
done
echo "db-init: done"
