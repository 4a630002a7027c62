#!/usr/bin/env bash
# Installs what the tests need beyond the build: headless Chromium (the report tests open every report in it)
# and a font for its text; sqlite3, groff and col for make check-install (backups of a live database, the man
# pages); PostgreSQL for the fleet sync tests (scripts/start-test-postgres.sh starts it). Needs root (or sudo) only
# when something has to be installed.
set -euo pipefail

packages=(chromium fonts-dejavu-core sqlite3 groff-base bsdextrautils postgresql)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "cellrig: installing missing Debian packages for the tests: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "cellrig: need root to install ${missing[*]}; run: apt-get install ${missing[*]}" >&2
    exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
