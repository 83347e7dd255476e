#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: Debian's packages, a temporary folder, one
# loopback port, password authentication (so the tests read the password the way users do,
# from PGPASSWORD or ~/.pgpass), run as the `postgres` user when we are root (the server
# refuses to run as root).
#
#   scripts/postgres.sh start DIR     installs PostgreSQL when missing, creates and starts a
#                                     cluster in the new folder DIR, writes DIR/env
#   scripts/postgres.sh start-tls DIR as start, for a second cluster that takes TLS only over
#                                     TCP (a certificate for 127.0.0.1 and localhost signed by
#                                     a CA made here, in DIR/tls), writes DIR/env
#   scripts/postgres.sh restart DIR   stops and starts it again (the tests' outage)
#   scripts/postgres.sh stop DIR      stops it (removes nothing: the caller made DIR)
#   scripts/postgres.sh up DIR        starts the stopped cluster again
#
# DIR/env sets BISECT_DEPLOY_TEST_POSTGRES (the URL, without password), PGPASSWORD and
# BISECT_DEPLOY_TEST_POSTGRES_DIR, for `source`.
# With start-tls, DIR/env sets BISECT_DEPLOY_TEST_POSTGRES_TLS (the URL), ..._TLS_CA (the CA's
# certificate), ..._TLS_PASSWORD (the role's password: PGPASSWORD stays the first cluster's)
# and ..._TLS_DIR instead, so that both can be sourced.
set -euo pipefail

action=${1:?usage: scripts/postgres.sh start|start-tls|restart|stop|up DIR}
dir=${2:?usage: scripts/postgres.sh start|start-tls|restart|stop|up DIR}

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

install_postgres() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: postgresql" >&2
  # Debian's package creates and starts a `main` cluster on port 5432 unless told not to:
  # the tests want only their own, stopped at the end.
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/bisect-deploy.conf >/dev/null
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
}

# Runs a server program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A CA and the server's certificate (127.0.0.1 and localhost, two days) in DIR/tls, for
# start-tls: the key readable by the cluster's owner alone, as the server requires.
make_tls_files() {
  local tls="$dir/tls"
  command -v openssl >/dev/null || { echo "error: start-tls needs openssl" >&2; exit 1; }
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=bisect-deploy test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>"$tls/openssl.log"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>>"$tls/openssl.log"
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/server.ext" -out "$tls/server.crt" 2>>"$tls/openssl.log"
  chmod 600 "$tls/server.key" "$tls/ca.key"
  chmod 644 "$tls/ca.crt" "$tls/server.crt"
  [ "$(id -u)" -ne 0 ] || chown -R postgres "$tls"
}

pg_ctl_run() {
  local bin
  bin=$(bin_dir)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 "$@"
}

case "$action" in
start | start-tls)
  [ -n "$(bin_dir || true)" ] || install_postgres
  bin=$(bin_dir || true)
  [ -n "$bin" ] || { echo "error: PostgreSQL's server programs are missing after installing postgresql" >&2; exit 1; }
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  password="test-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  printf '%s\n' "$password" >"$dir/superuser-password"
  chmod 600 "$dir/superuser-password"
  [ "$(id -u)" -ne 0 ] || chown -R postgres "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/superuser-password" \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  # Loopback only, the socket in the cluster's own folder, nothing in the system's.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
synchronous_commit = on
EOF
  if [ "$action" = start-tls ]; then
    make_tls_files
    cat >>"$dir/data/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
EOF
    # TCP with TLS only: a client that gets in used TLS.
    sed -i -E 's/^host([[:space:]])/hostssl\1/' "$dir/data/pg_hba.conf"
  fi
  pg_ctl_run start >/dev/null
  # The tests' role owns its database and nothing else: what docs/fleet.md asks of a team's.
  role_password="bisect-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<EOF
CREATE ROLE bisect LOGIN PASSWORD '$role_password';
CREATE DATABASE bisect OWNER bisect;
EOF
  if [ "$action" = start-tls ]; then
    cat >"$dir/env" <<EOF
export BISECT_DEPLOY_TEST_POSTGRES_TLS='postgres://bisect@127.0.0.1:$port/bisect'
export BISECT_DEPLOY_TEST_POSTGRES_TLS_CA='$dir/tls/ca.crt'
export BISECT_DEPLOY_TEST_POSTGRES_TLS_PASSWORD='$role_password'
export BISECT_DEPLOY_TEST_POSTGRES_TLS_DIR='$dir'
EOF
  else
    cat >"$dir/env" <<EOF
export BISECT_DEPLOY_TEST_POSTGRES='postgres://bisect@127.0.0.1:$port/bisect'
export BISECT_DEPLOY_TEST_POSTGRES_DIR='$dir'
export PGPASSWORD='$role_password'
EOF
  fi
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir/env"
  chmod 644 "$dir/env"
  echo "postgres: 127.0.0.1:$port ($dir)$([ "$action" = start ] || echo ", TLS only")" >&2
  ;;
restart)
  pg_ctl_run -m fast restart >/dev/null
  ;;
up)
  pg_ctl_run start >/dev/null
  ;;
stop)
  # Fast, then immediate, then the postmaster's pid: the caller removes DIR next, and no
  # server may keep running on a deleted folder.
  if [ -f "$dir/data/postmaster.pid" ]; then
    pg_ctl_run -m fast stop >/dev/null 2>&1 || pg_ctl_run -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/data/postmaster.pid" ]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    case "$pid" in '' | *[!0-9]*) ;; *) kill -KILL "$pid" 2>/dev/null || true ;; esac
  fi
  ;;
*)
  echo "usage: scripts/postgres.sh start|start-tls|restart|stop|up DIR" >&2
  exit 64
  ;;
esac
