#!/usr/bin/env bash
# Installs the Debian packages cellrig builds against, if any is missing, and checks for a Swift toolchain.
# Needs root (or sudo) only when something has to be installed.
set -euo pipefail

"$(dirname "$0")/apt-install-missing.sh" "for the build" libsqlite3-dev libserialport-dev pkg-config

if ! command -v swift >/dev/null 2>&1; then
    echo "cellrig: no Swift toolchain on PATH; install Swift 6.1 or newer (swift.org) and run again" >&2
    exit 1
fi
