#!/usr/bin/env bash
# profgate's cached paths against a direct call to the upstream (profgate-sim), same run, same
# machine. Two requests, each fully cached after a warm-up:
#   hour:  one aligned one-hour bucket (JSON, ~630 KB)
#   day24: an unaligned 24-hour range (~36 buckets, JSON)
# Two profgate configurations: "answers" (default: repeats of all-complete requests are written from
# stored bytes) and "merge" (cache.response_bytes = 0: every request merges its cached buckets and
# encodes). All programs are single-threaded and pinned to core 0; wrk runs on core 1.
# Three runs each at 1 and 16 connections; medians (min-max); ratio profgate/direct.
# Usage: bench/gateway/run.sh [SECONDS_PER_RUN]  (default 10). Writes bench/results/<date>-<host>-gateway.md
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-10}
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target profgate profgate-sim >/dev/null

sim_port=$(free_port)
gw_port=$(free_port)
merge_port=$(free_port)
work=$(mktemp -d)
cleanup() {
  kill "${gw_pid:-}" "${merge_pid:-}" "${sim_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
clock=2026-11-25T12:00:00Z
taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:$sim_port --clock $clock 2>"$work/sim.log" &
sim_pid=$!
taskset -c 0 build-release/profgate --listen 127.0.0.1:$gw_port --upstream http://127.0.0.1:$sim_port \
  --clock $clock --log-level warn 2>"$work/gw.log" &
gw_pid=$!
printf '[cache]\nresponse_bytes = 0\n' >"$work/merge.conf"
taskset -c 0 build-release/profgate -c "$work/merge.conf" --listen 127.0.0.1:$merge_port \
  --upstream http://127.0.0.1:$sim_port --clock $clock --log-level warn 2>"$work/merge.log" &
merge_pid=$!
wait_http "http://127.0.0.1:$sim_port/healthz"
wait_http "http://127.0.0.1:$gw_port/healthz"
wait_http "http://127.0.0.1:$merge_port/healthz"

hour='/profilingGroups/bench/profile?startTime=2026-11-23T10%3A00%3A00Z&period=PT1H'
day24='/profilingGroups/bench/profile?startTime=2026-11-23T09%3A07%3A00Z&endTime=2026-11-24T09%3A07%3A00Z'
for p in "$hour" "$day24"; do # warm both: the sim's memo and profgate's cache
  curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$sim_port$p"
  curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$gw_port$p"
  curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$merge_port$p"
done
buckets=$(curl -s -D - -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$gw_port$day24" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-profgate-buckets" {print $2}')

out="bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)-gateway.md"
{
  echo "# profgate cached path vs a direct upstream call ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per run)"
  echo
  echo "hour: one aligned one-hour bucket. day24: unaligned 24 h range ($buckets)."
  echo "answers: profgate as configured by default (repeats of all-complete requests written from stored"
  echo "bytes). merge: cache.response_bytes = 0, every request merges its cached buckets and encodes."
  echo "Anchor: profgate-sim answering the same request from its response memo."
  echo
  echo "| request | profgate | conns | profgate req/s | direct req/s | profgate/direct | profgate p50 ms | p99 ms | direct p50 ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out"
for name in hour day24; do
  p=${!name}
  for mode in answers merge; do
  port=$gw_port
  [ "$mode" = merge ] && port=$merge_port
  for c in 1 16; do
    g=(); d=(); ratio=(); gp50=(); gp99=(); dp50=()
    for run in 1 2 3; do
      o=$(taskset -c 1 wrk -t1 -c$c -d${secs}s --timeout 30s --latency -H 'Accept: application/json' "http://127.0.0.1:$port$p")
      [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from profgate"; echo "$o"; exit 1; }
      g+=("$(wrk_rps "$o")"); gp50+=("$(wrk_lat "$o" 50)"); gp99+=("$(wrk_lat "$o" 99)")
      o=$(taskset -c 1 wrk -t1 -c$c -d${secs}s --timeout 30s --latency -H 'Accept: application/json' "http://127.0.0.1:$sim_port$p")
      [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from the simulator"; echo "$o"; exit 1; }
      d+=("$(wrk_rps "$o")"); dp50+=("$(wrk_lat "$o" 50)")
      ratio+=("$(awk -v a="${g[-1]}" -v b="${d[-1]}" 'BEGIN {printf "%.2f", a/b}')")
    done
    read -r gm gmin gmax <<<"$(stats3 "${g[@]}")"
    read -r dm dmin dmax <<<"$(stats3 "${d[@]}")"
    read -r rm _ _ <<<"$(stats3 "${ratio[@]}")"
    read -r a _ _ <<<"$(stats3 "${gp50[@]}")"
    read -r b _ _ <<<"$(stats3 "${gp99[@]}")"
    read -r e _ _ <<<"$(stats3 "${dp50[@]}")"
    echo "| $name | $mode | $c | $gm ($gmin-$gmax) | $dm ($dmin-$dmax) | $rm | $a | $b | $e |" >>"$out"
  done
  done
done
rss=$(awk '/VmHWM/ {print $2}' /proc/$gw_pid/status)
rss2=$(awk '/VmHWM/ {print $2}' /proc/$merge_pid/status)
echo >>"$out"
echo "profgate peak RSS: answers $((rss / 1024)) MB, merge $((rss2 / 1024)) MB" >>"$out"
cat "$out"
