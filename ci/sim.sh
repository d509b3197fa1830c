#!/usr/bin/env bash
# The simulator sweeps CI runs: the determinism check (every seed of every scenario twice,
# traces compared byte for byte) and an exploration with faults drawn per seed. Both run the
# release build, split over two processes (one per core: a run is single-threaded, and a
# process runs one at a time, see sim/src/harness.rs `run_setup`). Output
# goes to reports/sim/; every failure there names the command that replays it.
#
#   bash ci/sim.sh                                   # determinism 0..100, explore 0..200
#   DETERMINISM_SEEDS=0..1000 EXPLORE_SEEDS=0..1000 bash ci/sim.sh
set -euo pipefail
cd "$(dirname "$0")/.."

determinism_seeds=${DETERMINISM_SEEDS:-0..100}
explore_seeds=${EXPLORE_SEEDS:-0..200}
out=reports/sim
mkdir -p "$out"

cargo build --release --locked -q -p hwa-sim
sim=target/release/hwa-sim
mapfile -t scenarios < <("$sim" list | cut -d' ' -f1)
half=$(( (${#scenarios[@]} + 1) / 2 ))
first=("${scenarios[@]:0:half}")
second=("${scenarios[@]:half}")

# Runs `hwa-sim <command> --seeds <seeds>` for each scenario of one half, appending to a log.
sweep() {
    local log=$1 command=$2 seeds=$3
    shift 3
    : >"$log"
    local status=0
    for scenario in "$@"; do
        "$sim" "$command" --scenario "$scenario" --seeds "$seeds" >>"$log" 2>&1 || status=1
    done
    return $status
}

# Runs one sweep over both halves at once and writes the combined log to $out/<name>.txt.
both_halves() {
    local name=$1 command=$2 seeds=$3 status=0
    sweep "$out/$name.1.log" "$command" "$seeds" "${first[@]}" &
    local a=$!
    sweep "$out/$name.2.log" "$command" "$seeds" "${second[@]}" &
    local b=$!
    wait $a || status=1
    wait $b || status=1
    cat "$out/$name.1.log" "$out/$name.2.log" >"$out/$name.txt"
    rm -f "$out/$name.1.log" "$out/$name.2.log"
    grep -E '^[a-z_]+ +[0-9]+ (seeds|runs)' "$out/$name.txt" || true
    if [ $status -ne 0 ]; then
        echo "hwa-sim $command failed; see $out/$name.txt. Failures and their replay commands:"
        grep -E '^  (replay:|hwa-sim)' "$out/$name.txt" | head -50
    fi
    return $status
}

status=0
echo "determinism over seeds $determinism_seeds of ${#scenarios[@]} scenarios"
both_halves determinism determinism "$determinism_seeds" || status=1
echo "exploration with faults over seeds $explore_seeds of ${#scenarios[@]} scenarios"
both_halves explore explore "$explore_seeds" || status=1
exit $status
