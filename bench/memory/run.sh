#!/usr/bin/env bash
# What a cached bucket costs in memory (issue #21): bench/memory/bucket_bytes on 5-minute and
# one-hour buckets of 3,000 and 30,000 nodes per 5-minute bucket. The figures are sizes, not
# timings: the same on every run of the same build, so one run is the measurement.
# Usage: bench/memory/run.sh. Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_prepare
cmake --build build-release -j"$(nproc)" --target bucket_bytes >/dev/null
out=$(report_file memory)
{
  echo "## Cached bucket memory ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "A bucket from the simulator, written as JSON and parsed back as an upstream answer is. Model: what the"
  echo "in-process cache is charged for a live bucket (pg_profile_memory) as kept, and in brackets as parsed,"
  echo "before pg_profile_shrink. Packed: the encoding Redis stores (pg_pcodec, zstd level 3), which is what the"
  echo "in-process cache keeps of a complete bucket, decoded when a run is built from it."
  echo
  echo "| nodes/5 min | bucket | nodes | strings | JSON KB | JSON B/node | model KB | model B/node | model/JSON | packed KB | packed B/node | packed/JSON |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for n in 3000 30000; do build-release/bucket_bytes $n; done
} >"$out"
worst=$(awk -F'|' '/^\| [0-9]/ {gsub(/ /, "", $10); if ($10 > w) w = $10} END {print w}' "$out")
verdict=$(awk -v w="$worst" 'BEGIN {print (w <= 1.0) ? "met" : "not met"}')
packed=$(awk -F'|' '/^\| [0-9]/ {gsub(/ /, "", $13); if ($13 > w) w = $13} END {print w}' "$out")
target "Issue #21 (a cached bucket in memory <= its JSON size): at most ${worst}x its JSON as a model (live buckets), ${packed}x packed (complete buckets), over 5-minute and one-hour buckets of 3,000 and 30,000 nodes: $verdict"
cat "$out"
