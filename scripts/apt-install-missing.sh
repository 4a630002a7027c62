#!/usr/bin/env bash
# Installs those of the named Debian packages that are not installed yet.
# Usage: scripts/apt-install-missing.sh "WHAT THEY ARE FOR" PACKAGE...
# Needs root (or sudo) only when something has to be installed.
set -euo pipefail

purpose="$1"
shift
missing=()
for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "cellrig: installing missing Debian packages $purpose: ${missing[*]}"
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
