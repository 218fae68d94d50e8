#!/usr/bin/env bash
# perf flame graphs of the sliding "last 24 hours" request (issue #21): startTime = now - 24 h,
# endTime = now, every bucket cached, cache.response_bytes = 0 so each request merges the cached
# buckets and runs and encodes the answer (JSON), at 3,000 nodes per 5-minute bucket, one
# connection. Before: BASE_REV (default a4a134d, the last commit before issue #21's changes);
# after: the working tree. Both are built in Release with frame pointers (-fno-omit-frame-pointer)
# so that perf's call graphs are whole; perf samples profgate alone (cpu-clock, 997 Hz) while wrk
# drives it for SECONDS. Writes bench/results/<stamp>-<host>-flame-{before,after}.png (and the
# folded stacks beside them, .folded) and prints the top self-time functions of each.
# Usage: bench/flame/run.sh [BASE_REV] [SECONDS (10)]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
base_rev=${1:-a4a134d}
secs=${2:-10}
bench_prepare linux-perf chromium
bench_start
git worktree add -q --detach "$work/base" "$base_rev"
trap 'git worktree remove --force "$work/base" 2>/dev/null; bench_cleanup' EXIT
fp=(-DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF "-DCMAKE_C_FLAGS=-fno-omit-frame-pointer -g")
cmake -S "$work/base" -B "$work/base/build-fp" "${fp[@]}" >/dev/null
cmake --build "$work/base/build-fp" -j"$(nproc)" --target profgate >/dev/null
cmake -S . -B build-fp "${fp[@]}" >/dev/null
cmake --build build-fp -j"$(nproc)" --target profgate profgate-sim >/dev/null
declare -A bin=([before]="$work/base/build-fp/profgate" [after]=build-fp/profgate)
declare -A rev=([before]=$(git rev-parse --short "$base_rev") [after]="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo +changes)")

clock='2026-11-25T09:30:00Z!'
sport=$(free_port)
taskset -c 0 build-fp/profgate-sim --listen 127.0.0.1:$sport --clock "$clock" --nodes 3000 --cache-mb 2048 \
  --log-level warn 2>"$work/sim.log" &
pids+=($!)
wait_http "http://127.0.0.1:$sport/healthz"
path='/profilingGroups/bench/profile?startTime=2026-11-24T09%3A30%3A00Z&endTime=2026-11-25T09%3A30%3A00Z'
printf '[cache]\nmemory_bytes = 1g\nresponse_bytes = 0\n' >"$work/merge.conf"
for v in before after; do
  port=$(free_port)
  taskset -c 0 "${bin[$v]}" -c "$work/merge.conf" --listen 127.0.0.1:$port --upstream http://127.0.0.1:$sport \
    --clock "$clock" --log-level warn 2>"$work/$v.log" &
  pid=$!
  pids+=($pid)
  wait_http "http://127.0.0.1:$port/healthz"
  for _ in 1 2 3; do curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$port$path"; done
  curl -sf -D "$work/head" -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$port$path"
  grep -qi '^x-profgate-cache: hit' "$work/head" || { echo "bench: $v did not answer from its cache" >&2; exit 1; }
  taskset -c 1 wrk -t1 -c1 -d"$((secs + 2))"s -H 'Accept: application/json' "http://127.0.0.1:$port$path" >"$work/$v.wrk" &
  wrkpid=$!
  sleep 1 # wrk's first requests go by before sampling starts
  perf record -q -e cpu-clock -F 997 -g -p $pid -o "$work/$v.data" -- sleep "$secs" 2>"$work/$v.perf.log"
  wait $wrkpid
  kill $pid
  base=$(result_base "flame-$v")
  perf script -i "$work/$v.data" 2>/dev/null | bench/flame/flame.py collapse >"$base.folded"
  rps=$(wrk_rps "$(cat "$work/$v.wrk")")
  bench/flame/flame.py svg "profgate ${rev[$v]} ($v): sliding 24 h, 3,000 nodes per bucket, merged and encoded per request ($rps req/s, 1 connection)" \
    <"$base.folded" >"$work/$v.svg"
  h=$(awk -F'"' '/^<svg/ {print $6; exit}' "$work/$v.svg") # its height
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,"$h" \
    --screenshot="$PWD/$base.png" "file://$work/$v.svg" >/dev/null 2>&1
  [ -s "$base.png" ] || { echo "bench: chromium did not render $base.png" >&2; exit 1; }
  echo "== $v (${rev[$v]}): $rps req/s; self time, top 12 (% of samples)"
  awk '{n = $NF; $NF = ""; k = split($0, f, ";"); sub(/ +$/, "", f[k]); self[f[k]] += n; t += n}
       END {for (s in self) printf "%6.1f  %s\n", self[s] * 100 / t, s}' "$base.folded" | sort -rn | head -12
done
