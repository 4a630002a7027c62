#!/usr/bin/env bash
# Installs the Debian packages cellrig builds against, if any is missing.
# Needs root (or sudo) only when something has to be installed.
set -euo pipefail

packages=(libsqlite3-dev libserialport-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "cellrig: installing missing Debian packages: ${missing[*]}"
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

if ! command -v swift >/dev/null 2>&1; then
    echo "cellrig: no Swift toolchain on PATH; install Swift 6.1 or newer (swift.org) and run again" >&2
    exit 1
fi
