#!/usr/bin/env bash
# Workload "fleet" (see run.py): one replica, three sharing one budget through Redis, three
# with the old per-replica split, and one process with three workers, on the same load, interleaved. Usage: bench/fleet/run.sh
# [SECONDS (30)] [REPS (3)]. Writes bench/results/<date>-<host>-fleet.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_prepare
out=$(report_file fleet)
PROFGATE_BIN=$PWD/build-release/profgate PROFGATE_SIM_BIN=$PWD/build-release/profgate-sim \
  /usr/bin/python3 bench/fleet/run.py "${1:-30}" "${2:-3}" >"$out"
cat "$out"
