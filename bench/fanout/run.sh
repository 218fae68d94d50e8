#!/usr/bin/env bash
# Workload 3 of issue #7, cold fan-out: unaligned 7-day requests on an empty cache, against
# profgate-sim with 50 ms latency, throttled like the service (10 req/s, burst 20), 300-node
# buckets (so the simulator's own work stays small next to its latency). profgate runs its
# defaults: upstream rate 10/s, burst 20, max_inflight 16, L1 only. Cases:
#   one        one 7-day request for one group
#   same8      8 clients asking the same 7-day range at once (coalescing: one fetch per bucket)
#   groups4    4 clients, each a 7-day range for a different group, at once
# Per case: profgate's wall time (first request sent to last answer received), the upstream calls
# it made and how many the simulator throttled, and the ideal: the shortest time any client could
# achieve for those bucket fetches under the same rate, burst, max_inflight and latency
# (bench/fanout/ideal.py). The anchor is the direct call: the same clients calling the simulator,
# which answers a whole range in one call. Every repetition (3) starts a fresh simulator and a
# fresh profgate, so both caches and both token buckets start empty/full. Medians (min-max).
# Usage: bench/fanout/run.sh. Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_prepare
bench_start
rate=10 burst=20 inflight=16 latency_ms=50
range='startTime=2026-11-18T09%3A07%3A00Z&endTime=2026-11-25T09%3A07%3A00Z'
now_ns() { date +%s%N; }
# fetch PORT URL-PATH... : all requests at once; prints wall seconds. Fails on any non-200.
fetch() {
  local port=$1 t0 t1 p cs=()
  shift
  t0=$(now_ns)
  for p in "$@"; do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Accept: application/json' "http://127.0.0.1:$port$p" >>"$work/codes" &
    cs+=($!)
  done
  wait "${cs[@]}"
  t1=$(now_ns)
  if grep -qv '^200$' "$work/codes"; then echo "bench: a request failed: $(sort "$work/codes" | uniq -c)" >&2; exit 1; fi
  : >"$work/codes"
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}'
}
# start: a fresh simulator (and profgate in front of it unless $1 = direct); sets sp and gp.
start() {
  sp=$(free_port) gp=$(free_port)
  build-release/profgate-sim --listen 127.0.0.1:$sp --clock '2026-11-25T09:30:00Z!' --nodes 300 \
    --rate $rate --burst $burst --latency-ms $latency_ms --log-level warn 2>>"$work/sim.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$sp/healthz"
  [ "$1" = direct ] && return
  printf '[upstream]\nrate = %s\nburst = %s\nmax_inflight = %s\n' $rate $burst $inflight >"$work/pg.conf"
  build-release/profgate -c "$work/pg.conf" --listen 127.0.0.1:$gp --upstream http://127.0.0.1:$sp \
    --clock '2026-11-25T09:30:00Z!' --log-level warn 2>>"$work/pg.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$gp/healthz"
}
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }

out=$(report_file fanout)
{
  echo "## Workload 3: cold fan-out ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Unaligned 7-day ranges on empty caches. Upstream: profgate-sim, $rate req/s burst $burst, ${latency_ms} ms latency,"
  echo "300-node buckets. profgate: upstream rate $rate, burst $burst, max_inflight $inflight. Ideal: the shortest"
  echo "possible time for profgate's upstream calls under that rate, burst, max_inflight and latency."
  echo "direct: the same clients calling the simulator (one call per range). 3 fresh starts each; medians (min-max)."
  echo
  echo "| case | requests | upstream calls | throttled | ideal s | profgate s | profgate vs ideal | direct s |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$out"
for case in one same8 groups4; do
  paths=()
  case $case in
    one) paths=("/profilingGroups/fan0/profile?$range") ;;
    same8) for i in $(seq 8); do paths+=("/profilingGroups/fan0/profile?$range"); done ;;
    groups4) for i in 0 1 2 3; do paths+=("/profilingGroups/fan$i/profile?$range"); done ;;
  esac
  w=(); d=(); u=(); t=(); ideal=()
  for rep in $(seq "${REPS:-3}"); do
    start profgate
    w+=("$(fetch "$gp" "${paths[@]}")")
    read -r c th <<<"$(sim_calls "$sp")"
    u+=("$c"); t+=("$th")
    ideal+=("$(/usr/bin/python3 bench/fanout/ideal.py "$c" $rate $burst $inflight "$(awk -v l=$latency_ms 'BEGIN {print l / 1000}')")")
    stop
    start direct
    d+=("$(fetch "$sp" "${paths[@]}")")
    stop
  done
  read -r wm wmin wmax <<<"$(stats3 "${w[@]}")"
  read -r dm dmin dmax <<<"$(stats3 "${d[@]}")"
  read -r um umin umax <<<"$(stats3 "${u[@]}")"
  read -r tm _ _ <<<"$(stats3 "${t[@]}")"
  read -r im _ _ <<<"$(stats3 "${ideal[@]}")"
  ratio=$(awk -v x="$wm" -v y="$im" 'BEGIN {printf "%.2f", x/y}')
  echo "| $case | ${#paths[@]} | $um ($umin-$umax) | $tm | $im | $wm ($wmin-$wmax) | $ratio | $dm ($dmin-$dmax) |" | tee -a "$out"
  [ $case = groups4 ] && target "Workload 3 (cold fan-out, 4 groups x 7 days, $um upstream calls): ${wm} s against an ideal of ${im} s (${ratio}x); no target set"
done
echo >>"$out"
cat "$out"
