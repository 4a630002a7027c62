#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster for the fleet sync tests and gives the current user a role that may create
# databases. The tests find the server through CELLRIG_TEST_POSTGRES (default: the local Unix socket in
# /var/run/postgresql, as the current user); each test creates its own database and drops it.
# The test that stops a server mid-sync runs a private instance of its own (initdb into a scratch directory).
set -euo pipefail

if [ -n "${CELLRIG_TEST_POSTGRES:-}" ]; then
    echo "cellrig: fleet tests use CELLRIG_TEST_POSTGRES=${CELLRIG_TEST_POSTGRES}"
    exit 0
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "cellrig: PostgreSQL is not installed (scripts/install-test-deps.sh installs Debian's postgresql)" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_postgres=(runuser -u postgres --)
elif command -v sudo >/dev/null 2>&1; then
    as_postgres=(sudo -u postgres)
else
    echo "cellrig: need root or sudo to start PostgreSQL; start it and set CELLRIG_TEST_POSTGRES" >&2
    exit 1
fi

cluster=$(pg_lsclusters --no-header | awk 'NR == 1 { print $1 " " $2 }')
if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    "${as_postgres[@]}" pg_createcluster "$version" main >/dev/null
    cluster="$version main"
fi
# shellcheck disable=SC2086
if ! pg_lsclusters --no-header | awk -v c="$cluster" '$1 " " $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
    if [ "$(id -u)" -eq 0 ]; then pg_ctlcluster $cluster start; else sudo pg_ctlcluster $cluster start; fi
fi
user=$(id -un)
"${as_postgres[@]}" psql -q -d postgres -v ON_ERROR_STOP=1 -c \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${user}') THEN
        CREATE ROLE \"${user}\" LOGIN CREATEDB; END IF; END \$\$;"
echo "cellrig: PostgreSQL cluster ${cluster} is up; fleet tests connect as ${user} on /var/run/postgresql"
