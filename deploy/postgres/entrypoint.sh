#!/bin/bash
# Entrypoint of localhost/passerelle-postgres: initdb on first start, then (every start) the
# role and databases from the environment on a socket-only server, then postgres as PID 1.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=passerelle}"
: "${POSTGRES_PASSWORD:=passerelle}"
: "${POSTGRES_DATABASES:=passerelle_actions,passerelle_equipment,passerelle_funding,passerelle_gateway,passerelle_notifications}"
# Clients in this script (psql) find the server on the same port.
export PGPORT="${POSTGRES_PORT:-5432}"
SOCKET_DIR=/run/postgresql
INIT_LOG=/tmp/postgres-init.log

# /run may be a fresh tmpfs: fall back to /tmp for the unix socket.
mkdir -p "$SOCKET_DIR" 2>/dev/null && [[ -w "$SOCKET_DIR" ]] || SOCKET_DIR=/tmp

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  echo "postgres-entrypoint: initdb in $PGDATA"
  initdb -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$INIT_LOG" 2>&1 || {
    cat "$INIT_LOG" >&2
    exit 1
  }
  # The superuser has no password, so it can only connect over the socket, inside the container.
  cat >"$PGDATA/pg_hba.conf" <<'EOF'
# Written by postgres-entrypoint at initdb.
# TYPE  DATABASE  USER      ADDRESS    METHOD
local   all       postgres             trust
local   all       all                  scram-sha-256
host    all       all       0.0.0.0/0  scram-sha-256
host    all       all       ::/0       scram-sha-256
EOF
  printf "\ninclude_if_exists = 'passerelle.conf'\n" >>"$PGDATA/postgresql.conf"
fi

cat >"$PGDATA/passerelle.conf" <<EOF
# Written by postgres-entrypoint at every start; edits are overwritten.
listen_addresses = '${POSTGRES_LISTEN:-*}'
port = ${POSTGRES_PORT:-5432}
unix_socket_directories = '${SOCKET_DIR}'
max_connections = 200
password_encryption = 'scram-sha-256'
EOF

# Provision on a server nobody else can reach (no TCP), then stop it.
pg_ctl -D "$PGDATA" -w -t 60 -l "$INIT_LOG" -o "-c listen_addresses=''" start >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -U postgres -d postgres \
  -v role="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" -v databases="$POSTGRES_DATABASES" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
-- CREATEDB: the tests give every test its own fresh databases.
SELECT format('ALTER ROLE %I LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD %L', :'role', :'password')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'role')
  FROM (SELECT DISTINCT trim(x) AS d FROM unnest(string_to_array(:'databases', ',')) AS x) AS wanted
 WHERE d <> '' AND NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SQL
pg_ctl -D "$PGDATA" -w -t 60 -m fast stop >/dev/null
echo "postgres-entrypoint: role ${POSTGRES_USER}, databases ${POSTGRES_DATABASES}"

exec postgres -D "$PGDATA" "$@"
