#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): installs dependencies, then
#   1. builds with -Werror and runs every unit and integration test (ctest),
#   2. rebuilds with ASan + UBSan and runs them all again,
#   3. runs every fuzz target for a bounded time (PG_FUZZ_SECONDS, default 30 each).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

total_pass=0
total_fail=0
run_ctest() { # build-dir label
  local log
  log=$(mktemp)
  set +e
  (cd "$1" && ctest --output-on-failure -j2 --timeout 600) 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  local failed total
  failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  total_pass=$((total_pass + total - failed))
  total_fail=$((total_fail + failed))
  rm -f "$log"
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "test.sh: $2 tests failed"
    echo "tests: $total_pass passed, $((total_fail > 0 ? total_fail : 1)) failed"
    exit 1
  fi
}

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
run_ctest build release

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DPG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build-asan sanitizer

echo "== fuzz"
scripts/fuzz.sh "${PG_FUZZ_SECONDS:-30}"

echo "tests: $total_pass passed, $total_fail failed"
