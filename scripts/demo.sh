#!/usr/bin/env bash
# make demo: start cellrigd on the built-in simulated rig, run the seed CCD protocol to its end in
# accelerated cell time, print the CCD it found and where the data is, then stop the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.build/debug
state=.demo
rm -rf "$state"
mkdir -p "$state"
socket="$state/cellrig.sock"
database="$state/cellrig.sqlite"
export CELLRIG_SOCKET="$socket"

"$bin/cellrigd" --state-dir "$state" >"$state/cellrigd.log" 2>&1 &
daemon=$!
stop_daemon() {
    if kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
}
trap stop_daemon EXIT

for _ in $(seq 1 100); do
    if "$bin/cellrig" rigs >/dev/null 2>&1; then break; fi
    if ! kill -0 "$daemon" 2>/dev/null; then
        echo "cellrigd did not start; its log:" >&2
        cat "$state/cellrigd.log" >&2
        exit 1
    fi
    sleep 0.1
done

echo "== cellrigd is up on $socket; its rigs:"
"$bin/cellrig" rigs
echo
echo "== the plan (first cycles) for a 5 mm electrode:"
"$bin/cellrig" plan protocols/ccd-step-symmetric.yaml --area-cm2 0.196 >"$state/plan.txt"
head -n 8 "$state/plan.txt"
echo "   ..."
echo
echo "== starting the seed-000 step-current CCD test on the simulated K|K-beta''-alumina|K cell"
started=$("$bin/cellrig" start protocols/ccd-step-symmetric.yaml --rig sim --cell demo-cell)
echo "$started"
run=$(echo "$started" | sed -n 's/^started run \([0-9]*\):.*/\1/p')
echo
# watch and status exit 2 when a stop criterion ended the run: here, the short the demo is looking for.
"$bin/cellrig" watch "$run" || [ $? -eq 2 ]
echo
"$bin/cellrig" export "$run" --csv "$state/run-$run.csv"
"$bin/cellrig" status "$run" >"$state/status.txt" || [ $? -eq 2 ]
ccd=$(sed -n 's/^  CCD: //p' "$state/status.txt")
truth=$(sed -n 's/^  truth (simulator): \(dendrite-initiation\|soft-short\|hard-short\)/\1/p' "$state/status.txt" | head -n 1)
echo "== result: CCD ${ccd:-not found}; the simulator's own record of the short: ${truth:-none}"
echo "== database: $(pwd)/$database (run $run); samples as CSV: $(pwd)/$state/run-$run.csv"
