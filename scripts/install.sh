#!/usr/bin/env bash
# make install / install-sim-rig / uninstall: copy what `make build` staged, and the repository's service,
# udev, documentation and example files, into place. Compiles nothing and needs no Swift toolchain, so it runs
# under sudo's PATH. Honours DESTDIR and PREFIX (and the finer folder variables the Makefile passes) for
# packagers. The database (/var/lib/cellrig) is never touched; files the administrator edits (the rig folder,
# the local udev rules) are written only when missing and removed only while unchanged.
#
# Usage: scripts/install.sh install | install-sim-rig | uninstall | list
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/bin}
DATADIR=${DATADIR:-$PREFIX/share}
DOCDIR=${DOCDIR:-$DATADIR/doc/cellrig}
MANDIR=${MANDIR:-$DATADIR/man}
BASHCOMPDIR=${BASHCOMPDIR:-$DATADIR/bash-completion/completions}
ZSHCOMPDIR=${ZSHCOMPDIR:-$DATADIR/zsh/site-functions}
FISHCOMPDIR=${FISHCOMPDIR:-$DATADIR/fish/vendor_completions.d}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$SYSCONFDIR/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-/usr/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-/usr/lib/tmpfiles.d}
MODULESLOADDIR=${MODULESLOADDIR:-$SYSCONFDIR/modules-load.d}
UDEVRULESDIR=${UDEVRULESDIR:-$SYSCONFDIR/udev/rules.d}
RIGSDIR=$SYSCONFDIR/cellrig/rigs

stage=${STAGE:-.build/stage}
programs=(cellrigd cellrig cellrig-sim)

fail() {
    echo "cellrig: $*" >&2
    exit 1
}

# Every file install puts, as "mode source destination"; uninstall removes exactly these.
# Sources under @units/ are the systemd units with their paths rewritten for BINDIR and DOCDIR.
installed_files() {
    local program file
    for program in "${programs[@]}"; do
        echo "0755 $stage/bin/$program $BINDIR/$program"
        echo "0644 $stage/man/man1/$program.1 $MANDIR/man1/$program.1"
        echo "0644 $stage/completions/bash/$program $BASHCOMPDIR/$program"
        echo "0644 $stage/completions/zsh/_$program $ZSHCOMPDIR/_$program"
        echo "0644 $stage/completions/fish/$program.fish $FISHCOMPDIR/$program.fish"
    done
    echo "0644 @units/cellrigd.service $UNITDIR/cellrigd.service"
    echo "0644 @units/cellrig-sim.service $UNITDIR/cellrig-sim.service"
    echo "0644 systemd/cellrig.sysusers $SYSUSERSDIR/cellrig.conf"
    echo "0644 systemd/cellrig.tmpfiles $TMPFILESDIR/cellrig.conf"
    echo "0644 systemd/cellrig-modules.conf $MODULESLOADDIR/cellrig.conf"
    echo "0644 udev/70-cellrig-instruments.rules $UDEVRULESDIR/70-cellrig-instruments.rules"
    echo "0644 udev/72-cellrig-instrument-group.rules $DOCDIR/examples/72-cellrig-instrument-group.rules"
    echo "0644 systemd/cellrigd.service.d/sim-serial.conf $DOCDIR/examples/cellrigd.service.d/sim-serial.conf"
    echo "0644 systemd/cellrigd.service.d/notify-network.conf $DOCDIR/examples/cellrigd.service.d/notify-network.conf"
    echo "0644 README.md $DOCDIR/README.md"
    for file in docs/*.md docs/*.yaml docs/adr/*.md; do
        echo "0644 $file $DOCDIR/$file"
    done
    for file in protocols/*.yaml rigs/*.yaml; do
        echo "0644 $file $DATADIR/cellrig/$file"
    done
}

# Files the administrator owns once they exist, as "source destination".
configuration_files() {
    echo "rigs/sim.yaml $RIGSDIR/sim.yaml"
    echo "udev/71-cellrig-local.rules $UDEVRULESDIR/71-cellrig-local.rules"
}

# What install-sim-rig adds: the drop-in and the rig whose ports are cellrig-sim.service's links.
sim_rig_files() {
    echo "0644 systemd/cellrigd.service.d/sim-serial.conf $UNITDIR/cellrigd.service.d/sim-serial.conf"
}
sim_rig_configuration_files() {
    echo "@units/sim-serial.yaml $RIGSDIR/sim-serial.yaml"
}

# Folders install creates that belong to cellrig alone; uninstall removes them once empty.
own_directories() {
    echo "$DOCDIR/docs/adr $DOCDIR/docs $DOCDIR/examples/cellrigd.service.d $DOCDIR/examples $DOCDIR"
    echo "$DATADIR/cellrig/protocols $DATADIR/cellrig/rigs $DATADIR/cellrig"
    echo "$UNITDIR/cellrigd.service.d $RIGSDIR $SYSCONFDIR/cellrig"
}

units=""
prepare_units() {
    units=$(mktemp -d)
    trap 'rm -rf "$units"' EXIT
    local unit
    for unit in cellrigd.service cellrig-sim.service; do
        sed -e "s|/usr/local/bin/|$BINDIR/|g" -e "s|file:///usr/local/share/doc/cellrig/|file://$DOCDIR/|g" \
            "systemd/$unit" >"$units/$unit"
    done
    sed -e 's|/tmp/cellrig-sim/|/run/cellrig-sim/|g' \
        -e 's|served by `cellrig-sim --link-dir /tmp/cellrig-sim`|served by cellrig-sim.service (links in /run/cellrig-sim)|' \
        rigs/sim-serial.yaml >"$units/sim-serial.yaml"
}

source_path() {
    case $1 in
        @units/*) echo "$units/${1#@units/}" ;;
        *) echo "$1" ;;
    esac
}

check_staged() {
    if [ ! -f "$stage/complete" ]; then
        fail "nothing to install: run 'make build' first, as yourself (not root); it builds the release programs, man pages and completions into $stage"
    fi
    local newer
    newer=$(find Sources Package.swift -newer "$stage/complete" -print -quit 2>/dev/null || true)
    if [ -n "$newer" ]; then
        fail "$newer changed after the last 'make build'; run 'make build' again before installing"
    fi
}

copy_files() {
    local mode source destination
    while read -r mode source destination; do
        source=$(source_path "$source")
        [ -f "$source" ] || fail "$source is missing (run 'make build' first)"
        install -D -m "$mode" "$source" "$DESTDIR$destination"
    done
}

copy_configuration() {
    local source destination
    while read -r source destination; do
        source=$(source_path "$source")
        if [ -e "$DESTDIR$destination" ]; then
            cmp -s "$source" "$DESTDIR$destination" || echo "cellrig: kept your $destination"
        else
            install -D -m 0644 "$source" "$DESTDIR$destination"
        fi
    done
}

remove_files() {
    local mode source destination
    while read -r mode source destination; do
        rm -f "$DESTDIR$destination"
    done
}

remove_unchanged_configuration() {
    local source destination
    while read -r source destination; do
        [ -e "$DESTDIR$destination" ] || continue
        if cmp -s "$(source_path "$source")" "$DESTDIR$destination"; then
            rm -f "$DESTDIR$destination"
        else
            echo "cellrig: kept $destination (you changed it)"
        fi
    done
}

systemd_running() {
    [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]
}

case $action in
    list)
        installed_files | awk '{ print $3 }'
        configuration_files | awk '{ print $2 }'
        ;;
    install)
        check_staged
        prepare_units
        installed_files | copy_files
        configuration_files | copy_configuration
        echo "cellrig: installed into ${DESTDIR:-/} (programs in $BINDIR, documentation in $DOCDIR)"
        if [ -z "$DESTDIR" ]; then
            cat <<EOF
Next, once (docs/install.md explains each step):
  sudo systemd-sysusers && sudo systemd-tmpfiles --create
  sudo systemctl restart systemd-modules-load && sudo udevadm control --reload && sudo udevadm trigger
  sudo systemctl daemon-reload && sudo systemctl enable --now cellrigd
  sudo usermod -aG cellrig "\$USER"     # then log in again to use the socket
After an upgrade: sudo systemctl restart cellrigd
EOF
        fi
        ;;
    install-sim-rig)
        prepare_units
        sim_rig_files | copy_files
        sim_rig_configuration_files | copy_configuration
        echo "cellrig: simulated serial rig installed; run:"
        echo "  sudo systemctl daemon-reload && sudo systemctl enable --now cellrig-sim && sudo systemctl restart cellrigd"
        ;;
    uninstall)
        if systemd_running; then
            for unit in cellrigd cellrig-sim; do
                if systemctl is-active --quiet "$unit" || systemctl is-enabled --quiet "$unit" 2>/dev/null; then
                    fail "$unit is still enabled or running; first: sudo systemctl disable --now cellrigd cellrig-sim"
                fi
            done
        fi
        prepare_units
        installed_files | remove_files
        sim_rig_files | remove_files
        configuration_files | remove_unchanged_configuration
        sim_rig_configuration_files | remove_unchanged_configuration
        own_directories | tr ' ' '\n' | while read -r directory; do
            rmdir "$DESTDIR$directory" 2>/dev/null || true
        done
        echo "cellrig: uninstalled from ${DESTDIR:-/}; the database (/var/lib/cellrig) and the cellrig user stay"
        if systemd_running; then
            systemctl daemon-reload
            udevadm control --reload 2>/dev/null || true
        fi
        ;;
    *)
        fail "usage: scripts/install.sh install | install-sim-rig | uninstall | list"
        ;;
esac
