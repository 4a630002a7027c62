#!/usr/bin/env bash
# make check-service: run the installed units under a real systemd and drive a simulated CCD run through them.
#
# The development and CI machines run no systemd as PID 1, so this boots one in a container: systemd-nspawn
# on an overlay of the machine's own root file system (writes go to a throwaway tmpfs layer), `make install`
# into it, then systemd-sysusers, systemd-tmpfiles and `systemctl start cellrigd` as docs/install.md says. The
# whole sandbox applies (system call filter, MemoryDenyWriteExecute, no capabilities, namespaces), except the
# device cgroup: the container's systemd cannot enforce DeviceAllow=, so this check does not cover it.
# Needs root and systemd-nspawn (Debian's systemd-container package, installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

bare_path=/usr/sbin:/usr/bin:/sbin:/bin
passed=0
failed=0
pass() {
    passed=$((passed + 1))
}
fail() {
    failed=$((failed + 1))
    echo "check-service: FAILED: $*" >&2
}
give_up() {
    echo "check-service: FAILED: $*" >&2
    echo "check-service: 0 passed, 1 failed"
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    # Like the package installs of `make deps`: as root, or through sudo.
    command -v sudo >/dev/null 2>&1 ||
        give_up "needs root (it boots a container with systemd-nspawn) and there is no sudo; run it as root"
    exec sudo "$0" "$@"
fi
if ! command -v systemd-nspawn >/dev/null 2>&1; then
    echo "check-service: installing Debian's systemd-container package for systemd-nspawn"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd-container >/dev/null || true
fi
command -v systemd-nspawn >/dev/null 2>&1 || give_up "systemd-nspawn is missing and could not be installed (apt-get install systemd-container)"
[ -f .build/stage/complete ] || give_up "nothing staged: run 'make build' first"

layers=$(mktemp -d /dev/shm/cellrig-service.XXXXXX)
root=$(mktemp -d /tmp/cellrig-service-root.XXXXXX)
machine=cellrig-check-$$
nspawn=""
leader=""
cleanup() {
    if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
        if [ -n "$leader" ]; then
            nsenter --target "$leader" --all systemctl poweroff >/dev/null 2>&1 || true
            for _ in $(seq 1 100); do
                kill -0 "$nspawn" 2>/dev/null || break
                sleep 0.2
            done
        fi
        kill -TERM "$nspawn" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$nspawn" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$nspawn" 2>/dev/null || true
    fi
    umount "$root" 2>/dev/null || umount -l "$root" 2>/dev/null || true
    rmdir "$root" 2>/dev/null || true
    rm -rf "$layers"
}
trap cleanup EXIT
mkdir -p "$layers/upper" "$layers/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$root" ||
    give_up "cannot mount an overlay of / (overlayfs) for the container"

# Install exactly as a lab would, into the container's root.
env -i PATH="$bare_path" HOME=/root make --no-print-directory install DESTDIR="$root" >"$layers/install.log" 2>&1 ||
    give_up "make install into the container failed: $(cat "$layers/install.log")"
env -i PATH="$bare_path" HOME=/root make --no-print-directory install-sim-rig DESTDIR="$root" >>"$layers/install.log" 2>&1 ||
    give_up "make install-sim-rig into the container failed: $(cat "$layers/install.log")"
# Only what the check needs starts in the container: no enabled service of this machine.
rm -f "$root/etc/systemd/system/multi-user.target.wants/"* "$root/etc/systemd/system/sockets.target.wants/"* \
    2>/dev/null || true

systemd-nspawn --directory="$root" --boot --register=no --keep-unit --private-network --machine="$machine" \
    --console=pipe -- systemd.unit=basic.target </dev/null >"$layers/nspawn.log" 2>&1 &
nspawn=$!
for _ in $(seq 1 300); do
    leader=$(pgrep -P "$nspawn" -x systemd || true)
    [ -n "$leader" ] && break
    kill -0 "$nspawn" 2>/dev/null || give_up "systemd-nspawn exited: $(cat "$layers/nspawn.log")"
    sleep 0.2
done
[ -n "$leader" ] || give_up "no systemd started in the container: $(cat "$layers/nspawn.log")"
inside() {
    nsenter --target "$leader" --all env -i PATH="$bare_path:/usr/local/bin" LANG=C.UTF-8 "$@"
}
state=""
for _ in $(seq 1 600); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.2
done
case $state in running | degraded) ;; *) give_up "the container's systemd did not finish booting (state: $state)" ;; esac
echo "check-service: systemd $(inside systemctl --version | head -n 1 | cut -d' ' -f2) is PID 1 in container $machine"

check() {
    local description=$1
    shift
    if "$@" >"$layers/out" 2>&1; then pass; else
        fail "$description"
        sed 's/^/    /' "$layers/out" >&2
    fi
}
journal() {
    inside journalctl --no-pager -u cellrigd -u cellrig-sim -n 40 >&2 || true
}

# The steps of docs/install.md.
check "systemd-sysusers failed" inside systemd-sysusers
check "systemd-tmpfiles --create failed" inside systemd-tmpfiles --create
check "systemctl daemon-reload failed" inside systemctl daemon-reload
if ! inside timeout 180 systemctl start cellrigd >"$layers/out" 2>&1; then
    fail "systemctl start cellrigd failed: $(cat "$layers/out")"
    journal
    echo "check-service: $passed passed, $failed failed"
    exit 1
fi
pass
main_pid=$(inside systemctl show -p MainPID --value cellrigd)
inside cat "/proc/$main_pid/status" >"$layers/main-status" 2>&1 || true
check "cellrigd does not run as user cellrig" \
    test "$(awk '/^Uid:/ { print $2 }' "$layers/main-status")" = "$(inside id -u cellrig)"
check "cellrigd holds capabilities" grep -q '^CapEff:[[:space:]]*0000000000000000$' "$layers/main-status"
check "cellrigd runs without a seccomp filter" grep -q '^Seccomp:[[:space:]]*2$' "$layers/main-status"
check "cellrigd may gain privileges" grep -q '^NoNewPrivs:[[:space:]]*1$' "$layers/main-status"
check "cellrigd's socket is not group cellrig, mode 0660" \
    test "$(inside stat -c '%G %a' /run/cellrig/cellrig.sock)" = "cellrig 660"
inside systemd-analyze security --no-pager cellrigd >"$layers/security" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for cellrigd.service: \([0-9.]*\).*/\1/p' "$layers/security")
echo "check-service: systemd-analyze security cellrigd (running): ${exposure:-?}"
check "the running cellrigd rates above 2.0 (${exposure:-no rating})" \
    awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# A simulated CCD run to its end, through the socket, as an operator would.
# cellrig's default socket is the service's, /run/cellrig/cellrig.sock.
run() {
    inside cellrig "$@"
}
protocols=/usr/local/share/cellrig/protocols
rigs_listed() {
    run rigs >"$layers/rigs" 2>&1 && awk -F'\t' '$1 == "sim" { s = 1 } $1 == "sim-serial" { t = 1 } END { exit !(s && t) }' "$layers/rigs"
}
check "cellrig rigs does not list sim and sim-serial" rigs_listed
if started=$(run start "$protocols/ccd-step-symmetric.yaml" --rig sim --cell service-check 2>&1); then
    pass
    run_id=$(sed -n 's/^started run \([0-9]*\):.*/\1/p' <<<"$started")
    inside timeout 600 cellrig watch "$run_id" >"$layers/watch" 2>&1 || true
    run status "$run_id" >"$layers/status" 2>&1 || true
    check "the CCD run under systemd found no CCD: $(head -n 3 "$layers/status" | tr '\n' ' ')" \
        grep -q '^  CCD: [0-9]' "$layers/status"
    echo "check-service: run $run_id: $(grep -m1 '^  CCD:' "$layers/status" || echo 'no CCD')"
else
    fail "cellrig start failed under systemd: $started"
    journal
fi

# Reload sends SIGHUP (ExecReload=), which re-reads the rig folder; the daemon must survive it. A daemon that
# does not handle SIGHUP dies of it, so this runs once cellrigd says in its help that it handles SIGHUP.
if inside cellrigd --help 2>&1 | grep -q SIGHUP; then
    check "systemctl reload cellrigd failed" inside systemctl reload cellrigd
    sleep 1
    check "cellrigd is not active after systemctl reload (SIGHUP)" inside systemctl is-active --quiet cellrigd
else
    echo "check-service: SKIPPED the reload check: cellrigd --help does not mention SIGHUP, so the daemon does not handle it yet"
fi

# The simulated serial rig: cellrig-sim.service, its links in /run/cellrig-sim, the drop-in's pts access.
check "systemctl start cellrig-sim failed" inside timeout 120 systemctl start cellrig-sim
for _ in $(seq 1 100); do
    inside test -L /run/cellrig-sim/methodscript && break
    sleep 0.2
done
check "cellrig-sim.service made no links in /run/cellrig-sim" inside test -L /run/cellrig-sim/methodscript
if started=$(run start "$protocols/stripping-3e.yaml" --rig sim-serial --set current_density='3 mA/cm2' 2>&1); then
    pass
    serial_run=$(sed -n 's/^started run \([0-9]*\):.*/\1/p' <<<"$started")
    samples=0
    for _ in $(seq 1 300); do
        samples=$(inside sqlite3 /var/lib/cellrig/cellrig.sqlite "select count(*) from samples where run_id = $serial_run" 2>/dev/null || echo 0)
        [ "$samples" -ge 20 ] && break
        sleep 0.2
    done
    check "the sim-serial run recorded only $samples samples through the pseudo-terminals" test "$samples" -ge 20
else
    fail "cellrig start on sim-serial failed under systemd: $started"
    journal
fi

# make uninstall refuses while the service runs (it would pull the programs from under it).
repository=$(pwd)
if inside make -C "$repository" --no-print-directory uninstall >"$layers/uninstall" 2>&1; then
    fail "make uninstall went ahead while cellrigd was running"
else
    check "make uninstall refused a running cellrigd without saying to stop it first" \
        grep -q 'disable --now cellrigd' "$layers/uninstall"
fi

# A clean stop within TimeoutStopSec, with the sim-serial run still going: the daemon ends the run, puts the cell
# at open circuit and exits by itself after SIGTERM, before systemd's SIGKILL.
stop_started=$(date +%s.%N)
check "systemctl stop cellrigd failed" inside timeout 120 systemctl stop cellrigd
stop_seconds=$(awk -v a="$stop_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "check-service: systemctl stop cellrigd during a run took $stop_seconds s (TimeoutStopSec=30)"
check "cellrigd did not stop cleanly: $(inside systemctl show -p Result,ExecMainCode,ExecMainStatus cellrigd | tr '\n' ' ')" \
    test "$(inside systemctl show -p Result --value cellrigd)" = success
if [ -n "${serial_run:-}" ]; then
    serial_state=$(inside sqlite3 /var/lib/cellrig/cellrig.sqlite "select state from runs where id = $serial_run" 2>&1)
    echo "check-service: the sim-serial run active at the stop is now: $serial_state"
    check "the run active at the stop is still marked running ($serial_state)" test "$serial_state" != running
fi
check "systemctl stop cellrig-sim failed" inside timeout 120 systemctl stop cellrig-sim

# Once stopped, make uninstall removes the programs and units and keeps the database.
check "make uninstall failed with the services stopped" inside make -C "$repository" --no-print-directory uninstall
uninstalled() {
    ! inside test -e /usr/local/bin/cellrigd && ! inside test -e /etc/systemd/system/cellrigd.service
}
unit_gone() {
    test "$(inside systemctl show -p LoadState --value cellrigd)" = not-found
}
check "make uninstall left cellrigd or its unit" uninstalled
check "make uninstall removed the database" inside test -s /var/lib/cellrig/cellrig.sqlite
check "systemd still knows cellrigd.service after uninstall" unit_gone
# The services' journal: on a failure, or when asked (CHECK_SERVICE_JOURNAL=1 make check-service).
if [ "$failed" -gt 0 ] || [ -n "${CHECK_SERVICE_JOURNAL:-}" ]; then
    inside journalctl --no-pager -o short-precise -u cellrigd -u cellrig-sim | grep -v 'thread priority' >&2 || true
fi

echo "check-service: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
