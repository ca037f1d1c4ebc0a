# Creates (or updates the password of) each service's roles and creates its
# database (docs/architecture.md, "Database roles"). PGUSER/PGPASSWORD are
# the RDS master user. Idempotent.
#  MIGRATE_DATABASE_URL_<SERVICE>: the owner, agentidp_<service>. CREATEROLE:
#    its migrations create the NOLOGIN writer role the service works as and
#    grant it to the login.
#  DATABASE_URL_<SERVICE>: the login, agentidp_<service>_app: LOGIN only (no
#    CREATEROLE, not the owner, member of nothing; the service refuses any
#    other), with CONNECT on the database.
# (ALTER ROLE names no SUPERUSER or BYPASSRLS attribute: only a true
# superuser may, which neither RDS's master nor a Cloud SQL user is; the
# service refuses a login that has them anyway.)
set -eu
parse() {
  rest=${1#*://}
  userpass=${rest%%@*}
  user=${userpass%%:*}
  pass=${userpass#*:}
  hostport=${rest#*@}
  hostport=${hostport%%/*}
  db=${rest##*/}
  db=${db%%\?*}
  export PGHOST=${hostport%%:*} PGPORT=${hostport##*:}
}
for var in $(env | sed -n 's/^\(MIGRATE_DATABASE_URL_[A-Z_]*\)=.*/\1/p'); do
  parse "$(printenv "$var")"
  echo "db-init: owner $user, database $db"
  psql -v ON_ERROR_STOP=1 -q <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user')\gexec
ALTER ROLE "$user" WITH LOGIN CREATEROLE PASSWORD '$pass';
GRANT "$user" TO CURRENT_USER;
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
REVOKE CONNECT ON DATABASE "$db" FROM PUBLIC;
SQL
done
for var in $(env | sed -n 's/^\(DATABASE_URL_[A-Z_]*\)=.*/\1/p'); do
  parse "$(printenv "$var")"
  echo "db-init: login $user, database $db"
  psql -v ON_ERROR_STOP=1 -q <<SQL
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', '$user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user')\gexec
ALTER ROLE "$user" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$pass';
GRANT CONNECT ON DATABASE "$db" TO "$user";
SQL
done
echo "db-init: done"
