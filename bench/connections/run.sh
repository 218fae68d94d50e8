#!/usr/bin/env bash
# Workload 5 of issue #7: memory per idle keep-alive connection. CONNS connections (default
# 10,000) each make one small request and then stay open and idle; reported: the server's resident
# memory before and with them, and the difference per connection, for profgate and for nginx
# (1 worker; master + worker counted), for two arrivals of the first requests (spread, burst; see
# hold.py). REPS repetitions (default 3), each measuring every case once in rotated order; medians
# (min-max).
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

# measure ARRIVAL PORT PIDS... -> "before_kb with_kb"
measure() {
  local arrival=$1 port=$2; shift 2
  local before with
  before=$(rss_kb "$@")
  /usr/bin/python3 bench/connections/hold.py "$port" "$conns" /healthz "$arrival" >"$work/hold.out" &
  local hold=$!
  for _ in $(seq 1 6000); do # up to 60 s for every connection to be made and answered
    grep -q ready "$work/hold.out" && break
    kill -0 $hold 2>/dev/null || { echo "bench: the client failed" >&2; exit 1; }
    sleep 0.01
  done
  grep -q ready "$work/hold.out" || { echo "bench: connections not established" >&2; exit 1; }
  # Idle is measured once the answers' memory has settled: profgate hands a burst's free heap
  # pages back at most once a second (src/base/heapgive.h), so 2 s after the last answer. Every
  # server gets the same wait.
  sleep 2
  with=$(rss_kb "$@")
  kill $hold
  wait $hold 2>/dev/null || true
  echo "$before $with"
}

# run_one SERVER ARRIVAL: sets m to "before_kb with_kb", measured on a server started for this
# measurement alone (not in a subshell: the server's pid goes into pids for the exit trap)
run_one() {
  local s=$1 arrival=$2 port plist
  port=$(free_port)
  if [ "$s" = profgate ]; then
    # Every connection comes from 127.0.0.1: the per-address cap is raised to the total.
    printf '[server]\nmax_connections = %s\nmax_connections_per_client = %s\nidle_timeout = 10m\n' \
      $((conns + 100)) $((conns + 100)) >"$work/pg.conf"
    build-release/profgate -c "$work/pg.conf" --listen 127.0.0.1:$port --log-level warn 2>"$work/pg.log" &
    local p=$!
    pids+=($p); wait_http "http://127.0.0.1:$port/healthz"
    plist=($p)
  else
    # worker_connections twice the connections: with fewer than a sixteenth of them free, nginx
    # closes idle keep-alive connections to make room ("worker_connections are not enough,
    # reusing connections"), which a burst of first requests would otherwise trigger. It is a
    # count of slots, not of descriptors: conns + 1024 descriptors are enough.
    cat >"$work/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile $((conns + 1024));
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections $((2 * conns)); }
http { access_log off; keepalive_timeout 10m; keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work; default_type text/plain; } }
NGX
    nginx -c "$work/nginx.conf"
    wait_http "http://127.0.0.1:$port/healthz"
    plist=($(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")"))
  fi
  m=$(measure "$arrival" "$port" "${plist[@]}") || exit 1 # a failed client fails the run, not a 0 in the table
  if [ "$s" = profgate ]; then
    kill "${plist[0]}"; wait "${plist[0]}" 2>/dev/null || true
  else
    kill "$(cat "$work/nginx.pid")"; while [ -f "$work/nginx.pid" ]; do sleep 0.05; done
  fi
}

out=$(report_file connections)
reps=${REPS:-3}
{
  echo "## Workload 5: memory for $conns idle keep-alive connections ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Each connection made one request (/healthz) and stays open; RSS is read 2 s after the last answer."
  echo "RSS in MB; per connection in bytes."
  echo "Arrival: *spread*, each connection sends its request as soon as it is made; *burst*, every"
  echo "connection is made first and then every request sent at once (thousands in progress together,"
  echo "as when dashboards reconnect after a restart). nginx: 1 worker, master and worker counted."
  echo "Each repetition measures every server and arrival once, on a fresh server, in rotated order."
  echo "Medians of $reps repetitions (min-max)."
  echo
  echo "| server | arrival | RSS before | RSS with connections | bytes per connection | vs nginx |"
  echo "|---|---|---|---|---|---|"
} >"$out"
cases=("nginx spread" "profgate spread" "nginx burst" "profgate burst")
declare -A B W D
for run in $(seq "$reps"); do
  for k in $(seq 0 $((${#cases[@]} - 1))); do
    cs=${cases[$(((k + run - 1) % ${#cases[@]}))]}
    read -r s arrival <<<"$cs"
    run_one "$s" "$arrival"
    read -r before with <<<"$m"
    B[$cs]+=" $((before / 1024))"; W[$cs]+=" $((with / 1024))"; D[$cs]+=" $(((with - before) * 1024 / conns))"
  done
done
declare -A per
verdict=met
summary=""
for arrival in spread burst; do
  for s in nginx profgate; do
    cs="$s $arrival"
    read -r bm _ _ <<<"$(stats3 ${B[$cs]})"
    read -r wm wmin wmax <<<"$(stats3 ${W[$cs]})"
    read -r dm dmin dmax <<<"$(stats3 ${D[$cs]})"
    per[$cs]=$dm
    ratio=$(awk -v x="$dm" -v y="${per[nginx $arrival]}" 'BEGIN {printf "%.2f", x/y}')
    echo "| $s | $arrival | $bm | $wm ($wmin-$wmax) | $dm ($dmin-$dmax) | $ratio |" | tee -a "$out"
    if [ "$s" = profgate ]; then
      summary+="${summary:+; }$arrival: profgate $dm ($dmin-$dmax) bytes per connection, nginx ${per[nginx $arrival]} (${ratio}x)"
      awk -v x="$dm" -v y="${per[nginx $arrival]}" 'BEGIN {exit !(x > y)}' && verdict="not met"
    fi
  done
done
target "Workload 5 ($conns idle connections) $summary (target <= nginx for both arrivals, issue #21): $verdict"
echo >>"$out"
cat "$out"
