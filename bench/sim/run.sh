#!/usr/bin/env bash
# Simulator throughput: aligned single-bucket GetProfile requests (one-hour buckets of the default
# ~3,000-node size, JSON, latency 0) served by profgate-sim on one core, against nginx (one worker)
# serving the very same bytes as static files. Three runs per contender at 1, 16 and 64
# connections; medians with min and max; the ratio sim/nginx per run.
# Usage: bench/sim/run.sh [SECONDS_PER_RUN]   (default 10). Writes bench/results/<date>-<host>-sim.md
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-10}
scripts/install-deps.sh
command -v wrk >/dev/null && command -v nginx >/dev/null || { apt-get install -y -qq wrk nginx >/dev/null; }
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target profgate-sim >/dev/null

work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as www-data
sim_port=$(free_port)
ngx_port=$(free_port)
cleanup() {
  [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The simulator is pinned to one core; nginx runs one worker on the other.
taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:$sim_port --clock 2026-11-25T12:00:00Z 2>"$work/sim.log" &
sim_pid=$!
wait_http "http://127.0.0.1:$sim_port/healthz"

# Warm the simulator's memo and save each body for nginx.
mkdir -p "$work/www"
for h in $(seq 0 47); do
  t=$(date -u -d "@$((1795564800 - 3 * 86400 + h * 3600))" +%Y-%m-%dT%H%%3A00%%3A00Z)
  curl -sf -H 'Accept: application/json' -o "$work/www/h$h.json" \
    "http://127.0.0.1:$sim_port/profilingGroups/bench/profile?startTime=$t&period=PT1H"
done
body_kb=$(( $(stat -c %s "$work/www/h0.json") / 1024 ))

cat >"$work/nginx.conf" <<NGX
worker_processes 1;
worker_cpu_affinity 10;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  default_type application/json;
  server { listen 127.0.0.1:$ngx_port; root $work/www; }
}
NGX
nginx -c "$work/nginx.conf"
wait_http "http://127.0.0.1:$ngx_port/h0.json"

out="bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)-sim.md"
{
  echo "# profgate-sim throughput ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${secs}s per run)"
  echo
  echo "Aligned one-hour GetProfile buckets, JSON, ~${body_kb} KB each, 48 distinct, latency 0."
  echo "Anchor: nginx 1 worker serving the same bytes as static files. wrk 1 thread, on the second core."
  echo
  echo "| connections | sim req/s (median, min-max) | nginx req/s (median, min-max) | sim/nginx | sim p50 ms | sim p99 ms |"
  echo "|---|---|---|---|---|---|"
} >"$out"
for c in 1 16 64; do
  sim_r=(); ngx_r=(); ratio=(); p50=(); p99=()
  for run in 1 2 3; do
    o=$(taskset -c 1 wrk -t1 -c$c -d${secs}s --latency -s bench/sim/hours.lua "http://127.0.0.1:$sim_port" -- sim)
    [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from the simulator"; echo "$o"; exit 1; }
    s=$(wrk_rps "$o"); p50+=("$(wrk_lat "$o" 50)"); p99+=("$(wrk_lat "$o" 99)")
    o=$(taskset -c 1 wrk -t1 -c$c -d${secs}s -s bench/sim/hours.lua "http://127.0.0.1:$ngx_port" -- static)
    [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from nginx"; echo "$o"; tail -5 "$work/nginx-error.log"; exit 1; }
    n=$(wrk_rps "$o")
    sim_r+=("$s"); ngx_r+=("$n"); ratio+=("$(awk -v a="$s" -v b="$n" 'BEGIN {printf "%.2f", a/b}')")
  done
  read -r sm smin smax <<<"$(stats3 "${sim_r[@]}")"
  read -r nm nmin nmax <<<"$(stats3 "${ngx_r[@]}")"
  read -r rm _ _ <<<"$(stats3 "${ratio[@]}")"
  read -r pm _ _ <<<"$(stats3 "${p50[@]}")"
  read -r qm _ _ <<<"$(stats3 "${p99[@]}")"
  echo "| $c | $sm ($smin-$smax) | $nm ($nmin-$nmax) | $rm | $pm | $qm |" >>"$out"
done
cat "$out"
