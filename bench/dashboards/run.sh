#!/usr/bin/env bash
# Workload 2 of issue #7, sliding-window dashboards: DASHBOARDS dashboards (default 8) each refresh
# "last 1h / 6h / 24h / 7d" with endTime = now every second (bench/dashboards/dashboards.lua), in
# front of profgate-sim throttled like the service (10 req/s, burst 20) with 50 ms latency and
# 300-node buckets (so the simulator itself is never the bottleneck).
# Contenders, one after another against the same simulator:
#   direct          clients call the simulator themselves
#   nginx           proxy_cache keyed by URL and Accept, proxy_cache_lock on, 1 worker
#   varnish         keyed by URL and Accept, default TTL
#   profgate-redis  profgate with Redis
#   profgate-l1     profgate with its in-process cache only
# Each contender gets one unmeasured warm-up run (WARM seconds, default 150: a dashboard that has
# been open a while), then REPS measured runs (default 3) of SECONDS each (default 20). Reported
# per contender: client req/s, client-visible errors (non-2xx, i.e. 429s), upstream calls
# (GetProfile calls the simulator received), upstream calls the simulator throttled, p50/p99;
# medians (min-max); upstream calls as a ratio to nginx's in the same run. A gnuplot chart of
# upstream calls and client errors goes beside the table.
# Usage: bench/dashboards/run.sh [SECONDS]. Writes the table (see report_file) and bench/results/<date>-<host>-dashboards.png
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-20}
reps=${REPS:-3}
warm=${WARM:-150}
dash=${DASHBOARDS:-8}
bench_prepare varnish gnuplot-nox
bench_start
declare -A port
for s in sim redis direct nginx varnish profgate-redis profgate-l1; do port[$s]=$(free_port); done

build-release/profgate-sim --listen 127.0.0.1:${port[sim]} --nodes 300 --rate 10 --burst 20 --latency-ms 50 \
  --log-level warn 2>"$work/sim.log" &
pids+=($!)
port[direct]=${port[sim]}
redis-server --port "${port[redis]}" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
printf '[redis]\nurl = redis://127.0.0.1:%s\n' "${port[redis]}" >"$work/redis.conf"
printf '' >"$work/l1.conf"
for s in redis l1; do
  build-release/profgate -c "$work/$s.conf" --listen 127.0.0.1:${port[profgate-$s]} \
    --upstream http://127.0.0.1:${port[sim]} --log-level warn 2>"$work/profgate-$s.log" &
  pids+=($!)
done
start_nginx_cache "$work" "${port[nginx]}" "${port[sim]}"
start_varnish "$work" "${port[varnish]}" "${port[sim]}"
for s in direct nginx varnish profgate-redis profgate-l1; do wait_http "http://127.0.0.1:${port[$s]}/healthz"; done

run() { # contender seconds -> wrk output
  taskset -c 1 wrk -t1 -c"$dash" -d"$2"s --timeout 60s --latency -s bench/dashboards/dashboards.lua \
    "http://127.0.0.1:${port[$1]}" -- "$dash"
}

md=$(report_file dashboards)
png=$(result_base dashboards).png
{
  echo "## Workload 2: sliding-window dashboards ($(date -u +%Y-%m-%dT%H:%MZ), $dash dashboards x 4 panels every second)"
  echo
  echo "Upstream: profgate-sim, 10 req/s burst 20, 50 ms latency, 300-node buckets. ${warm}s warm-up per contender, then $reps runs"
  echo "of ${secs}s; medians (min-max). Upstream calls: GetProfile calls the simulator received during a run."
  echo
  echo "| contender | client req/s | client errors (429) | upstream calls | throttled upstream | upstream calls vs nginx | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$md"
: >"$work/plot.dat"
for s in direct nginx varnish profgate-redis profgate-l1; do
  run "$s" "$warm" >/dev/null
  r=(); e=(); u=(); t=(); p50=(); p99=()
  for _ in $(seq "$reps"); do
    read -r c0 t0 <<<"$(sim_calls "${port[sim]}")"
    o=$(run "$s" "$secs")
    read -r c1 t1 <<<"$(sim_calls "${port[sim]}")"
    r+=("$(wrk_rps "$o")"); e+=("$(wrk_errors "$o")"); u+=($((c1 - c0))); t+=($((t1 - t0)))
    p50+=("$(wrk_lat "$o" 50)"); p99+=("$(wrk_lat "$o" 99)")
  done
  read -r rm rmin rmax <<<"$(stats3 "${r[@]}")"
  read -r em emin emax <<<"$(stats3 "${e[@]}")"
  read -r um umin umax <<<"$(stats3 "${u[@]}")"
  read -r tm _ _ <<<"$(stats3 "${t[@]}")"
  read -r a _ _ <<<"$(stats3 "${p50[@]}")"
  read -r b _ _ <<<"$(stats3 "${p99[@]}")"
  [ "$s" = nginx ] && nginx_calls=$um
  ratio=$(awk -v x="$um" -v y="${nginx_calls:-0}" 'BEGIN { if (y == 0) print "-"; else if (x == 0) print "0 (none)"; else printf "1/%.0f", y/x }')
  echo "| $s | $rm ($rmin-$rmax) | $em ($emin-$emax) | $um ($umin-$umax) | $tm | $ratio | $a | $b |" | tee -a "$md"
  echo "$s $um $em" >>"$work/plot.dat"
  if [[ $s == profgate* ]]; then
    verdict=$(awk -v x="$um" -v y="$nginx_calls" -v e="$emax" 'BEGIN {print (x * 20 <= y && e == 0) ? "met" : "not met"}')
    # A quick run's short warm-up leaves profgate still filling the 7-day panels' buckets at the
    # simulator's 10 req/s during the measured runs, which the target is not about: it is judged
    # by the full run (its 150 s warm-up is a dashboard that has been open a while).
    [ -z "${QUICK:-}" ] || verdict="not judged in a quick run (a ${warm}s warm-up leaves the caches filling; the full run judges it)"
    target "Workload 2 (dashboards, $s): $ratio of nginx's upstream calls ($um vs $nginx_calls), client 429s at most $emax over $reps runs (target <= 1/20 and none): $verdict"
  fi
done
gnuplot <<GP
set terminal pngcairo size 900,420
set output "$png"
set title "Sliding-window dashboards: upstream calls and client errors per ${secs}s run (median)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.5:*]
set ylabel "count (log)"
set grid ytics
plot "$work/plot.dat" using (\$2+0.5):xtic(1) title "upstream calls", "" using (\$3+0.5) title "client errors (429)"
GP
echo >>"$md"
{ echo "![upstream calls and client errors]($(basename "$png"))"; echo; } >>"$md"
cat "$md"
