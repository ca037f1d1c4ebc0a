# Creates (or updates the password of) each service's role and creates its
# database, from the DATABASE_URL_<SERVICE> variables; PGUSER/PGPASSWORD are
# the RDS master user. Idempotent. The audit role gets CREATEROLE: its first
# migration creates the restricted role its queries run as (docs/audit.md).
set -eu
for var in $(env | sed -n 's/^\(DATABASE_URL_[A-Z_]*\)=.*/\1/p'); do
  url=$(printenv "$var")
  rest=${url#*://}
  userpass=${rest%%@*}
  user=${userpass%%:*}
  pass=${userpass#*:}
  hostport=${rest#*@}
  hostport=${hostport%%/*}
  db=${rest##*/}
  db=${db%%\?*}
  export PGHOST=${hostport%%:*} PGPORT=${hostport##*:}
  extra=""
  [ "$user" = agentidp_audit ] && extra=" CREATEROLE"
  echo "db-init: role $user, database $db"
  psql -v ON_ERROR_STOP=1 -q <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user')\gexec
ALTER ROLE "$user" WITH LOGIN PASSWORD '$pass'$extra;
GRANT "$user" TO CURRENT_USER;
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
REVOKE CONNECT ON DATABASE "$db" FROM PUBLIC;
SQL
done
echo "db-init: done"
