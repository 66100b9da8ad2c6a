#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the tests, and print the line that exports its DSN:
#
#     eval "$(.ci/postgres.sh)"        # then SPACES_OS_TEST_PG=postgresql://postgres@127.0.0.1:PORT/spaces_os_test
#
# Installs Debian's `postgresql` when its binaries are missing (CI runs as root), runs `initdb` in a temporary
# folder as the non-root `postgres` user (PostgreSQL refuses to run as root), trusts loopback connections
# only, and creates the `spaces_os_test` database. Progress goes to stderr; stdout is only the export line.
# A server this script already started (its DSN in $SPACES_OS_TEST_PG answers) is reused.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [[ -n "${SPACES_OS_TEST_PG:-}" ]] && psql "$SPACES_OS_TEST_PG" -Atqc 'select 1' >/dev/null 2>&1; then
  echo "export SPACES_OS_TEST_PG='$SPACES_OS_TEST_PG'"
  exit 0
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "installing Debian's postgresql" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

user=postgres
id "$user" >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
as_user() { if [[ $(id -u) -eq 0 ]]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

dir=$(mktemp -d /tmp/spaces-os-pg.XXXXXX)
[[ $(id -u) -eq 0 ]] && chown "$user" "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
# Loopback only, the socket in the temporary folder, enough connections for two managers and a pool each.
as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off" \
  start >&2
as_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres spaces_os_test
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir" >&2
echo "export SPACES_OS_TEST_PG='postgresql://postgres@127.0.0.1:$port/spaces_os_test'"
