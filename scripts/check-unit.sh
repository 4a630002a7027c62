#!/usr/bin/env bash
# make check-unit: rate the service units with `systemd-analyze security --offline=yes` and fail when an
# exposure is above 2.0 (on systemd's 0-10 scale), when systemd-analyze warns about a setting it does not know
# or cannot parse (a typo silently drops a protection), or when systemd-analyze cannot run at all.
# Offline mode reads the unit files only: it needs no running systemd, so it works in a container or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=2.0
units=(systemd/cellrigd.service systemd/cellrig-sim.service)

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "cellrig: systemd-analyze is missing; installing Debian's systemd package for it"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "cellrig: check-unit FAILED: no systemd-analyze, and no root to run: apt-get install systemd" >&2
        exit 1
    fi
    "${sudo[@]}" apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq systemd || true
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "cellrig: check-unit FAILED: systemd-analyze could not be installed (apt-get install systemd), so the units are unrated" >&2
    exit 1
fi
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
    echo "cellrig: check-unit FAILED: this systemd-analyze ($(systemd-analyze --version | head -n 1)) has no --offline; systemd 250 or newer is needed" >&2
    exit 1
fi

failed=0
for unit in "${units[@]}"; do
    warnings=$(mktemp)
    if ! report=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>"$warnings"); then
        echo "cellrig: check-unit FAILED: systemd-analyze security could not rate $unit:" >&2
        cat "$warnings" >&2
        rm -f "$warnings"
        failed=1
        continue
    fi
    echo "== systemd-analyze security --offline=yes $unit"
    echo "$report"
    if [ -s "$warnings" ]; then
        echo "cellrig: check-unit FAILED: systemd-analyze warned about $unit:" >&2
        cat "$warnings" >&2
        failed=1
    fi
    rm -f "$warnings"
    exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$report")
    if [ -z "$exposure" ]; then
        echo "cellrig: check-unit FAILED: no overall exposure level in the report for $unit" >&2
        failed=1
    elif awk -v exposure="$exposure" -v limit="$limit" 'BEGIN { exit !(exposure > limit) }'; then
        echo "cellrig: check-unit FAILED: $unit is rated $exposure, above $limit" >&2
        failed=1
    else
        echo "cellrig: $unit is rated $exposure (limit $limit)"
    fi
done
exit $failed
