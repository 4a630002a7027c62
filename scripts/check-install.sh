#!/usr/bin/env bash
# make check-install: install what `make build` staged into temporary DESTDIRs with an empty environment (the
# PATH sudo gives on Debian, no Swift on it) and check the result file by file: the list, the modes, the
# programs running without the toolchain, the units pointing at installed files, the man pages rendering, the
# completions parsing, PREFIX=/usr for packagers, the simulated rig, and that uninstall removes what install
# put while keeping the database and edited rig files. Every failure is listed; the exit status is 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."

bare_path=/usr/sbin:/usr/bin:/sbin:/bin
programs=(cellrigd cellrig cellrig-sim)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

pass() {
    passed=$((passed + 1))
}
fail() {
    failed=$((failed + 1))
    echo "check-install: FAILED: $*" >&2
}
check() {
    local description=$1
    shift
    if "$@" >"$work/out" 2>&1; then pass; else
        fail "$description"
        sed 's/^/    /' "$work/out" >&2
    fi
}
bare_make() {
    env -i PATH="$bare_path" HOME="$work" make --no-print-directory "$@"
}

if PATH=$bare_path command -v swift >/dev/null 2>&1; then
    fail "swift is on $bare_path here ($(PATH=$bare_path command -v swift)), so this check cannot show that install works without it"
fi

# What install must put under PREFIX=/usr/local and /etc, besides the documentation.
expected_files() {
    local program
    for program in "${programs[@]}"; do
        echo "/usr/local/bin/$program"
        echo "/usr/local/share/man/man1/$program.1"
        echo "/usr/local/share/bash-completion/completions/$program"
        echo "/usr/local/share/zsh/site-functions/_$program"
        echo "/usr/local/share/fish/vendor_completions.d/$program.fish"
    done
    cat <<'EOF'
/etc/systemd/system/cellrigd.service
/etc/systemd/system/cellrig-sim.service
/usr/lib/sysusers.d/cellrig.conf
/usr/lib/tmpfiles.d/cellrig.conf
/etc/modules-load.d/cellrig.conf
/etc/udev/rules.d/70-cellrig-instruments.rules
/etc/udev/rules.d/71-cellrig-local.rules
/etc/cellrig/rigs/sim.yaml
/usr/local/share/doc/cellrig/examples/72-cellrig-instrument-group.rules
/usr/local/share/doc/cellrig/examples/cellrigd.service.d/sim-serial.conf
/usr/local/share/doc/cellrig/examples/cellrigd.service.d/notify-network.conf
/usr/local/share/doc/cellrig/README.md
EOF
    git ls-files 'docs/*.md' 'docs/*.yaml' 'docs/adr/*.md' | sed 's|^|/usr/local/share/doc/cellrig/|'
    git ls-files 'protocols/*.yaml' 'rigs/*.yaml' | sed 's|^|/usr/local/share/cellrig/|'
}
files_under() {
    (cd "$1" && find . -type f | sed 's|^\.||' | sort)
}

# 1. A plain install, as `sudo make install` runs it.
root=$work/root
if bare_make install DESTDIR="$root" >"$work/install.log" 2>&1; then pass; else
    fail "make install DESTDIR=$root with PATH=$bare_path"
    cat "$work/install.log" >&2
fi
expected_files | sort >"$work/expected"
files_under "$root" >"$work/actual"
if diff -u "$work/expected" "$work/actual" >"$work/diff"; then pass; else
    fail "installed files differ from the expected list (- missing, + unexpected):"
    sed 's/^/    /' "$work/diff" >&2
fi

for program in "${programs[@]}"; do
    binary=$root/usr/local/bin/$program
    check "$program is not installed executable (mode 0755)" test "$(stat -c %a "$binary")" = 755
    check "$program does not run with an empty environment (Swift runtime not linked in?)" \
        env -i PATH="$bare_path" "$binary" --help
    check "$program links a library of the Swift toolchain" \
        bash -c "! ldd '$binary' | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|/opt/|/home/|not found'"
    check "man page of $program does not render cleanly" \
        bash -c "out=\$(LC_ALL=C.UTF-8 groff -mandoc -Tutf8 -ww -z '$root/usr/local/share/man/man1/$program.1' 2>&1); [ -z \"\$out\" ]"
    LC_ALL=C.UTF-8 groff -mandoc -Tutf8 "$root/usr/local/share/man/man1/$program.1" 2>/dev/null | col -b >"$work/page"
    check "man page of $program lacks its name, synopsis and --help" \
        bash -c "grep -q '^NAME' '$work/page' && grep -q '^SYNOPSIS' '$work/page' && grep -q -- '--help' '$work/page'"
    check "bash completion of $program does not parse" bash -n "$root/usr/local/share/bash-completion/completions/$program"
    if command -v zsh >/dev/null 2>&1; then
        check "zsh completion of $program does not parse" zsh -n "$root/usr/local/share/zsh/site-functions/_$program"
    fi
    if command -v fish >/dev/null 2>&1; then
        check "fish completion of $program does not parse" fish -n "$root/usr/local/share/fish/vendor_completions.d/$program.fish"
    fi
done
LC_ALL=C.UTF-8 groff -mandoc -Tutf8 "$root/usr/local/share/man/man1/cellrig.1" 2>/dev/null | col -b >"$work/page"
check "cellrig's man page does not describe its subcommands start and export" \
    bash -c "grep -Eq '^ +start( |\$)' '$work/page' && grep -Eq '^ +export( |\$)' '$work/page'"
# Completing `cellrig st<Tab>` the way bash does: the function `complete -p cellrig` names, with COMP_* set.
complete_cellrig_st() {
    bash -c 'source "$1"
        function=$(complete -p cellrig | sed -n "s/.*-F \([^ ]*\).*/\1/p")
        COMP_WORDS=(cellrig st) COMP_CWORD=1 COMP_LINE="cellrig st" COMP_POINT=10
        "$function" cellrig st cellrig
        printf "%s\n" "${COMPREPLY[@]}"' _ "$root/usr/local/share/bash-completion/completions/cellrig" >"$work/replies"
    grep -qx start "$work/replies" && grep -qx status "$work/replies"
}
check "cellrig's bash completion does not offer start and status for 'cellrig st'" complete_cellrig_st

# The units point at installed files and the sandbox still rates at 2.0 or below.
unit=$root/etc/systemd/system/cellrigd.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
check "cellrigd.service's ExecStart ($exec_start) is not the installed cellrigd" test -x "$root$exec_start"
for document in $(sed -n 's/^Documentation=//p' "$unit"); do
    case $document in
        file://*) check "cellrigd.service's Documentation $document is not installed" test -f "$root${document#file://}" ;;
        man:*)
            page=${document#man:}
            check "cellrigd.service's Documentation $document has no man page" \
                test -f "$root/usr/local/share/man/man${page//[^0-9]/}/${page%(*}.${page//[^0-9]/}"
            ;;
    esac
done
sim_exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/etc/systemd/system/cellrig-sim.service")
check "cellrig-sim.service's ExecStart ($sim_exec_start) is not the installed cellrig-sim" test -x "$root$sim_exec_start"
check "the installed cellrigd --check does not accept the installed rig folder" \
    env -i PATH="$bare_path" "$root/usr/local/bin/cellrigd" --check --rigs "$root/etc/cellrig/rigs" \
    --state-dir "$work/state"
if command -v systemd-analyze >/dev/null 2>&1; then
    check "the installed cellrigd.service rates above 2.0" \
        systemd-analyze security --offline=yes --threshold=20 --root="$root" cellrigd.service
fi

# 2. Without `make build` install stops with a message that says so, and installs nothing.
empty=$work/no-build
if env -i PATH="$bare_path" HOME="$work" STAGE="$work/nothing-staged" make --no-print-directory install \
    DESTDIR="$empty" >"$work/no-build.log" 2>&1; then
    fail "make install without a staged build succeeded"
else
    check "make install without a build does not say to run 'make build' first" grep -q "run 'make build' first" "$work/no-build.log"
    check "make install without a build installed files" test ! -e "$empty"
fi

# 3. Packagers: PREFIX=/usr moves the programs, documentation and the units' paths with it.
packaged=$work/packaged
check "make install PREFIX=/usr failed" bare_make install DESTDIR="$packaged" PREFIX=/usr UNITDIR=/usr/lib/systemd/system
check "PREFIX=/usr: cellrigd is not in /usr/bin" test -x "$packaged/usr/bin/cellrigd"
check "PREFIX=/usr: the unit does not start /usr/bin/cellrigd" \
    grep -q '^ExecStart=/usr/bin/cellrigd ' "$packaged/usr/lib/systemd/system/cellrigd.service"
check "PREFIX=/usr: the unit's documentation is not under /usr/share/doc/cellrig" \
    grep -q 'file:///usr/share/doc/cellrig/docs/install.md' "$packaged/usr/lib/systemd/system/cellrigd.service"
check "PREFIX=/usr: something was still installed under /usr/local" test ! -e "$packaged/usr/local"

# 4. The simulated serial rig: a drop-in and a rig file whose ports are in /run/cellrig-sim.
check "make install-sim-rig failed" bare_make install-sim-rig DESTDIR="$root"
check "the sim-serial drop-in is not installed" test -f "$root/etc/systemd/system/cellrigd.service.d/sim-serial.conf"
check "the installed sim-serial rig does not name /run/cellrig-sim ports" \
    bash -c "grep -q 'port: /run/cellrig-sim/methodscript' '$root/etc/cellrig/rigs/sim-serial.yaml' && ! grep -q '/tmp/' '$root/etc/cellrig/rigs/sim-serial.yaml'"
check "cellrigd --check does not accept the rig folder with the sim-serial rig" \
    env -i PATH="$bare_path" "$root/usr/local/bin/cellrigd" --check --rigs "$root/etc/cellrig/rigs" \
    --state-dir "$work/state"
if command -v systemd-analyze >/dev/null 2>&1; then
    check "cellrigd.service with the sim-serial drop-in rates above 2.0" \
        systemd-analyze security --offline=yes --threshold=20 --root="$root" cellrigd.service
fi

# 5. Upgrade and uninstall keep what the administrator made: an edited rig file, the database.
echo "# edited by the lab" >>"$root/etc/cellrig/rigs/sim.yaml"
mkdir -p "$root/var/lib/cellrig"
echo "not really a database" >"$root/var/lib/cellrig/cellrig.sqlite"
check "reinstalling failed" bare_make install DESTDIR="$root"
check "reinstalling overwrote the edited rig file" grep -q "edited by the lab" "$root/etc/cellrig/rigs/sim.yaml"
check "make uninstall failed" bare_make uninstall DESTDIR="$root"
files_under "$root" >"$work/left"
printf '%s\n' /etc/cellrig/rigs/sim.yaml /var/lib/cellrig/cellrig.sqlite >"$work/expected-left"
if diff -u "$work/expected-left" "$work/left" >"$work/diff"; then pass; else
    fail "after uninstall, files left differ from the edited rig file and the database (- gone, + left behind):"
    sed 's/^/    /' "$work/diff" >&2
fi
check "uninstall left cellrig's own folders behind" \
    bash -c "test ! -e '$root/usr/local/share/doc/cellrig' && test ! -e '$root/usr/local/share/cellrig' && test ! -e '$root/etc/systemd/system/cellrigd.service.d'"
check "make uninstall of a second, packaged install failed" \
    bare_make uninstall DESTDIR="$packaged" PREFIX=/usr UNITDIR=/usr/lib/systemd/system
check "uninstall left files of the PREFIX=/usr install" test -z "$(files_under "$packaged")"

# 6. Backups of a live WAL database, taken as docs/install.md says, while the daemon writes a CCD run.
stage=.build/stage/bin
live=$work/live
mkdir -p "$live/rigs"
sed -e 's/^id: sim$/id: sim-backup/' -e 's/^  speed: max$/  speed: 20000/' rigs/sim.yaml >"$live/rigs/sim-backup.yaml"
socket=$live/cellrig.sock
database=$live/cellrig.sqlite
"$stage/cellrigd" --state-dir "$live" --rigs "$live/rigs" >"$live/cellrigd.log" 2>&1 &
daemon=$!
stop_daemon() {
    if kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
}
trap 'stop_daemon; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
    "$stage/cellrig" rigs --socket "$socket" >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
done
if ! command -v sqlite3 >/dev/null 2>&1; then
    fail "sqlite3 is not installed (make test-deps installs it), so the backup of a live database is untested"
elif ! "$stage/cellrig" start protocols/ccd-step-symmetric.yaml --rig sim-backup --cell backup-check \
    --socket "$socket" >"$live/start.log" 2>&1; then
    fail "could not start a run to back up during:"
    cat "$live/start.log" "$live/cellrigd.log" >&2
else
    taken_while_running=0
    previous_samples=0
    for backup in 1 2 3; do
        copy=$live/backup-$backup.sqlite
        if ! timeout 300 sqlite3 "$database" ".backup $copy" 2>"$live/backup.err"; then
            fail "sqlite3 .backup $backup of the live database failed: $(cat "$live/backup.err")"
            continue
        fi
        check "backup $backup is not a consistent database" \
            test "$(sqlite3 "$copy" 'pragma integrity_check')" = ok
        samples=$(sqlite3 "$copy" 'select count(*) from samples where run_id = 1')
        state=$(sqlite3 "$copy" 'select state from runs where id = 1')
        check "backup $backup has fewer samples ($samples) than the one before ($previous_samples)" \
            test "$samples" -ge "$previous_samples"
        previous_samples=$samples
        if [ "$state" = running ] && [ "$samples" -gt 0 ]; then
            taken_while_running=$((taken_while_running + 1))
        fi
        sleep 0.5
    done
    check "no backup was taken while the daemon was writing the run (it ended too soon)" \
        test "$taken_while_running" -ge 1
    echo "check-install: $taken_while_running of 3 backups taken while the run was writing; the last had $previous_samples samples"
fi
stop_daemon

echo "check-install: $(wc -l <"$work/expected") files installed and checked"
echo "check-install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
