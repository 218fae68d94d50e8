#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each from its seed corpus.
# Usage:
#   scripts/fuzz.sh [SECONDS_PER_TARGET]          each target for a time (default 30; CI's mode)
#   scripts/fuzz.sh --runs N [SECONDS_CAP]        each target for N executions (at most SECONDS_CAP,
#                                                 default 7200, per target): fuzzing at depth
#   PG_FUZZ_TARGETS="fuzz_http fuzz_pcodec" ...   only these targets
# Every target keeps what it finds in build-fuzz/corpus-<target> (the committed seeds are only
# read), so a later run starts where the last one stopped. build-fuzz/fuzz-summary.txt gets a line
# per target: executions, seconds, executions per second, coverage (edges, features), corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=0
if [ "${1:-}" = "--runs" ]; then
  runs=${2:?"--runs needs a count"}
  secs=${3:-7200}
else
  secs=${1:-30}
fi
CC=clang cmake -S . -B build-fuzz -DPG_FUZZ=ON -DPG_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
rm -f build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* build-fuzz/oom-*
# The build lists its fuzz targets (tests/fuzz/CMakeLists.txt): no second list to keep in step.
mapfile -t targets < build-fuzz/fuzz-targets.txt
if [ -n "${PG_FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$PG_FUZZ_TARGETS"
fi
summary=build-fuzz/fuzz-summary.txt
printf '%-22s %12s %8s %10s %8s %8s %8s\n' target execs seconds execs/s cov ft corpus >"$summary"
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: the build lists no targets"
  exit 1
fi
for t in "${targets[@]}"; do
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  if [ "$runs" -gt 0 ]; then
    echo "fuzz: $t for $runs executions (at most ${secs}s)"
  else
    echo "fuzz: $t for ${secs}s"
  fi
  # New inputs go to the scratch corpus; the committed seeds are only read.
  set +e
  start=$(date +%s)
  build-fuzz/tests/fuzz/$t -runs="$((runs > 0 ? runs : -1))" -max_total_time="$secs" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ -print_final_stats=1 \
    "$work" tests/fuzz/corpus/$t >build-fuzz/$t.log 2>&1
  rc=$?
  set -e
  took=$(($(date +%s) - start))
  grep -E "^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)|runtime error" build-fuzz/$t.log || true
  artifacts=$(find build-fuzz -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
    echo "fuzz: $t failed (exit $rc); reproduce with: build-fuzz/tests/fuzz/$t $artifacts"
    tail -30 build-fuzz/$t.log
    exit 1
  fi
  # Every seed must still be read: a target that stops early has not fuzzed.
  if ! grep -q "^stat::number_of_executed_units" build-fuzz/$t.log; then
    echo "fuzz: $t did not report its run"
    exit 1
  fi
  # libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/...") carries the coverage.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/$t.log | tail -1)
  last=$(grep -E '^#[0-9]+' build-fuzz/$t.log | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  printf '%-22s %12s %8s %10s %8s %8s %8s\n' "$t" "$execs" "$took" "$((execs / (took > 0 ? took : 1)))" \
    "${cov:--}" "${ft:--}" "${corp:--}" | tee -a "$summary"
done
cat "$summary"
echo "fuzz: all ${#targets[@]} targets ran clean"
