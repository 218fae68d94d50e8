#!/usr/bin/env bash
# The view route's encoders (issue #19): a merged 24-hour profile at 3,000 and 30,000 call-tree
# nodes per 5-minute bucket, encoded as JSON (the anchor: GetProfile's answer), folded stacks and
# pprof (protobuf, then gzip as served) and speedscope, interleaved within each repetition; memcpy for scale.
# Usage: bench/views/run.sh [REPS] (default 7). Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
reps=${1:-7}
bench_prepare
cmake --build build-release -j"$(nproc)" --target encode_bench >/dev/null
out=$(report_file views)
{
  echo "## The view route's encoders ($(date -u +%Y-%m-%dT%H:%MZ), $reps repetitions)"
  echo
  echo "A 24-hour profile merged from 288 five-minute buckets of the simulator's generator; one core;"
  echo "contenders interleaved in rotated order within each repetition. MB/s is of each encoder's own output."
  echo
  for nodes in 3000 30000; do
    taskset -c 0 build-release/encode_bench "$nodes" "$reps" | { if [ "$nodes" = 30000 ]; then tail -n +3; else cat; fi; }
  done
} >"$out"
cat "$out"
