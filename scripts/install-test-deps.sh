#!/usr/bin/env bash
# Installs what the tests need beyond the build: headless Chromium (the report tests open every report in it)
# and a font for its text; sqlite3, groff and col for make check-install (backups of a live database, the man
# pages); PostgreSQL for the fleet sync tests (scripts/start-test-postgres.sh starts it). Needs root (or sudo) only
# when something has to be installed.
set -euo pipefail

"$(dirname "$0")/apt-install-missing.sh" "for the tests" \
    chromium fonts-dejavu-core sqlite3 groff-base bsdextrautils postgresql
