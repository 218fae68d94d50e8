#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time from
# its seed corpus. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
CC=clang cmake -S . -B build-fuzz -DPG_FUZZ=ON -DPG_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
rm -f build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* build-fuzz/oom-*
# The build lists its fuzz targets (tests/fuzz/CMakeLists.txt): no second list to keep in step.
mapfile -t targets < build-fuzz/fuzz-targets.txt
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: the build lists no targets"
  exit 1
fi
for t in "${targets[@]}"; do
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  echo "fuzz: $t for ${secs}s"
  # New inputs go to the scratch corpus; the committed seeds are only read.
  set +e
  build-fuzz/tests/fuzz/$t -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/ -print_final_stats=1 "$work" tests/fuzz/corpus/$t >build-fuzz/$t.log 2>&1
  rc=$?
  set -e
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
done
echo "fuzz: all ${#targets[@]} targets ran clean"
