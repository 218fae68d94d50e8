#!/usr/bin/env bash
# Workload 5 of issue #7: memory per idle keep-alive connection. CONNS connections (default
# 10,000) each make one small request and then stay open and idle; reported: the server's resident
# memory before and with them, and the difference per connection, for profgate and for nginx
# (1 worker; master + worker counted). Three runs; medians (min-max).
# Usage: bench/connections/run.sh. Writes the table (see report_file)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
conns=${CONNS:-10000}
bench_prepare
ulimit -n $((conns + 1024)) # per process: the client and the server each hold one end
bench_start
echo ok >"$work/healthz"
rss_kb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $t; }

# measure NAME PORT PIDS... -> "before_kb with_kb"
measure() {
  local port=$2; shift 2
  local before with
  before=$(rss_kb "$@")
  /usr/bin/python3 bench/connections/hold.py "$port" "$conns" /healthz >"$work/hold.out" &
  local hold=$!
  for _ in $(seq 1 6000); do # up to 60 s for every connection to be made and answered
    grep -q ready "$work/hold.out" && break
    kill -0 $hold 2>/dev/null || { echo "bench: the client failed" >&2; exit 1; }
    sleep 0.01
  done
  grep -q ready "$work/hold.out" || { echo "bench: connections not established" >&2; exit 1; }
  with=$(rss_kb "$@")
  kill $hold
  wait $hold 2>/dev/null || true
  echo "$before $with"
}

out=$(report_file connections)
{
  echo "## Workload 5: memory for $conns idle keep-alive connections ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Each connection made one request (/healthz) and stays open. RSS in MB; per connection in bytes."
  echo "nginx: 1 worker, master and worker counted. Medians of ${REPS:-3} runs (min-max)."
  echo
  echo "| server | RSS before | RSS with connections | bytes per connection | vs nginx |"
  echo "|---|---|---|---|---|"
} >"$out"
declare -A per
for s in nginx profgate; do
  b=(); w=(); d=()
  for run in $(seq "${REPS:-3}"); do
    port=$(free_port)
    if [ $s = profgate ]; then
      # Every connection comes from 127.0.0.1: the per-address cap is raised to the total.
      printf '[server]\nmax_connections = %s\nmax_connections_per_client = %s\nidle_timeout = 10m\n' \
        $((conns + 100)) $((conns + 100)) >"$work/pg.conf"
      build-release/profgate -c "$work/pg.conf" --listen 127.0.0.1:$port --log-level warn 2>"$work/pg.log" &
      p=$!; pids+=($p); wait_http "http://127.0.0.1:$port/healthz"
      plist=($p)
    else
      cat >"$work/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile $((conns + 1024));
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections $((conns + 100)); }
http { access_log off; keepalive_timeout 10m; keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work; default_type text/plain; } }
NGX
      nginx -c "$work/nginx.conf"
      wait_http "http://127.0.0.1:$port/healthz"
      plist=($(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")"))
    fi
    m=$(measure $s $port "${plist[@]}") || exit 1 # a failed client fails the run, not a 0 in the table
    read -r before with <<<"$m"
    b+=($((before / 1024))); w+=($((with / 1024))); d+=($(((with - before) * 1024 / conns)))
    if [ $s = profgate ]; then kill "${plist[0]}"; wait "${plist[0]}" 2>/dev/null || true; else kill "$(cat "$work/nginx.pid")"; while [ -f "$work/nginx.pid" ]; do sleep 0.05; done; fi
  done
  read -r bm _ _ <<<"$(stats3 "${b[@]}")"
  read -r wm wmin wmax <<<"$(stats3 "${w[@]}")"
  read -r dm dmin dmax <<<"$(stats3 "${d[@]}")"
  per[$s]=$dm
  ratio=$(awk -v x="$dm" -v y="${per[nginx]}" 'BEGIN {printf "%.2f", x/y}')
  echo "| $s | $bm | $wm ($wmin-$wmax) | $dm ($dmin-$dmax) | $ratio |" | tee -a "$out"
done
verdict=$(awk -v x="${per[profgate]}" -v y="${per[nginx]}" 'BEGIN {print (x <= y) ? "met" : "not met"}')
target "Workload 5 ($conns idle connections): profgate ${per[profgate]} bytes per connection, nginx ${per[nginx]} (${ratio}x; target <= nginx, issue #21): $verdict"
echo >>"$out"
cat "$out"
