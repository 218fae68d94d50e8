#!/usr/bin/env bash
# Hostile clients, measured (docs/OPERATIONS.md "Measured"). First the slow-reader flood against
# three configurations: no budget and no spilling (profgate before issue #20's budget), then
# budgets of 24 and 64 MiB. Then the suite (suite.py): each attack with a well-behaved client's
# latency beside it, and the same client alone as the anchor. Builds the Release binaries; about
# five minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=ON >/dev/null
cmake --build build-release -j"$(nproc)" --target profgate profgate-sim pcodec_bomb >/dev/null
export PROFGATE_BIN=$PWD/build-release/profgate PROFGATE_SIM_BIN=$PWD/build-release/profgate-sim
export PCODEC_BOMB_BIN=$PWD/build-release/tests/pcodec_bomb
echo "| configuration | peak RSS growth | spills | well-behaved request |"
echo "|---|---|---|---|"
for cfg in 'inflight_bytes = 100g\nspill_bytes = 0' 'inflight_bytes = 24m' 'inflight_bytes = 64m'; do
  /usr/bin/python3 bench/hostile/flood.py "$cfg" 2>/dev/null | tail -1
done
echo
/usr/bin/python3 bench/hostile/suite.py "${HOSTILE_REPS:-3}" "${HOSTILE_PROBES:-100}"
