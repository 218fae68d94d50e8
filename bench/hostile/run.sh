#!/usr/bin/env bash
# The slow-reader flood against three configurations (docs/OPERATIONS.md "Measured"): no budget
# and no spilling (profgate before issue #20's budget), then budgets of 24 and 64 MiB. Builds
# the Release binaries; about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target profgate profgate-sim >/dev/null
export PROFGATE_BIN=$PWD/build-release/profgate PROFGATE_SIM_BIN=$PWD/build-release/profgate-sim
echo "| configuration | peak RSS growth | spills | well-behaved request |"
echo "|---|---|---|---|"
for cfg in 'inflight_bytes = 100g\nspill_bytes = 0' 'inflight_bytes = 24m' 'inflight_bytes = 64m'; do
  /usr/bin/python3 bench/hostile/flood.py "$cfg" 2>/dev/null | tail -1
done
