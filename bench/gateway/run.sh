#!/usr/bin/env bash
# profgate's cached paths against two anchors, same run, same machine:
#   nginx proxy_cache (1 worker) in front of profgate-sim, serving the same request from its cache;
#   a direct call to profgate-sim (which answers repeats from its response memo).
# Requests, each fully cached after a warm-up:
#   hour:  one aligned one-hour bucket (JSON)
#   day24: an unaligned 24-hour range (~36 buckets, JSON)
# profgate configurations:
#   answers: the default (repeats of all-complete requests are written from stored bytes)
#   merge:   cache.response_bytes = 0: every request merges and encodes (stored merged runs used)
#   buckets: also cache.merged_bytes = 0: every request merges every bucket, then encodes
# Every server is single-threaded and pinned to core 0; wrk runs on core 1. Three runs each at 1,
# 16 and 64 connections; medians (min-max); ratios against nginx proxy_cache.
# Usage: bench/gateway/run.sh [SECONDS_PER_RUN]  (default 10). Writes bench/results/<date>-<host>-gateway.md
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-10}
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target profgate profgate-sim >/dev/null

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as www-data
mkdir -m 777 "$work/cache"
sim_port=$(free_port)
ngx_port=$(free_port)
declare -A port pid
cleanup() {
  kill "${pid[@]}" "${sim_pid:-}" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
clock=2026-11-25T12:00:00Z
taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:$sim_port --clock $clock 2>"$work/sim.log" &
sim_pid=$!
printf '' >"$work/answers.conf"
printf '[cache]\nresponse_bytes = 0\n' >"$work/merge.conf"
printf '[cache]\nresponse_bytes = 0\nmerged_bytes = 0\n' >"$work/buckets.conf"
for mode in answers merge buckets; do
  port[$mode]=$(free_port)
  taskset -c 0 build-release/profgate -c "$work/$mode.conf" --listen 127.0.0.1:${port[$mode]} \
    --upstream http://127.0.0.1:$sim_port --clock $clock --log-level warn 2>"$work/$mode.log" &
  pid[$mode]=$!
done

cat >"$work/nginx.conf" <<NGX
worker_processes 1;
worker_cpu_affinity 01;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  proxy_cache_path $work/cache levels=1:2 keys_zone=pg:16m max_size=1g inactive=1d use_temp_path=off;
  server {
    listen 127.0.0.1:$ngx_port;
    location / {
      proxy_pass http://127.0.0.1:$sim_port;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache pg;
      proxy_cache_key "\$request_uri|\$http_accept";
      proxy_cache_valid 200 1d;
      proxy_buffers 64 64k;
    }
  }
}
NGX
taskset -c 0 nginx -c "$work/nginx.conf"
wait_http "http://127.0.0.1:$sim_port/healthz"
for mode in answers merge buckets; do wait_http "http://127.0.0.1:${port[$mode]}/healthz"; done

hour='/profilingGroups/bench/profile?startTime=2026-11-23T10%3A00%3A00Z&period=PT1H'
day24='/profilingGroups/bench/profile?startTime=2026-11-23T09%3A07%3A00Z&endTime=2026-11-24T09%3A07%3A00Z'
port[direct]=$sim_port
port[nginx]=$ngx_port
for p in "$hour" "$day24"; do # warm every cache: the sim's memo, nginx's, profgate's
  for s in direct nginx answers merge buckets; do
    for _ in 1 2; do curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:${port[$s]}$p"; done
  done
done
buckets=$(curl -s -D - -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:${port[answers]}$day24" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-profgate-buckets" {print $2}')
hour_kb=$(( $(curl -s -H 'Accept: application/json' "http://127.0.0.1:$sim_port$hour" | wc -c) / 1024 ))
day_kb=$(( $(curl -s -H 'Accept: application/json' "http://127.0.0.1:$sim_port$day24" | wc -c) / 1024 ))
[ "$(curl -s -H 'Accept: application/json' "http://127.0.0.1:${port[merge]}$day24" | md5sum)" = \
  "$(curl -s -H 'Accept: application/json' "http://127.0.0.1:$sim_port$day24" | md5sum)" ] ||
  { echo "bench: profgate and the simulator disagree on day24"; exit 1; }

out="bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)-gateway.md"
{
  echo "# profgate cached paths vs nginx proxy_cache and a direct upstream call ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per run)"
  echo
  echo "hour: one aligned one-hour bucket, JSON, ${hour_kb} KB. day24: unaligned 24 h range, JSON, ${day_kb} KB ($buckets)."
  echo "answers: profgate's default (repeats of all-complete requests written from stored bytes)."
  echo "merge: cache.response_bytes = 0, every request merges (stored merged runs of whole hours) and encodes."
  echo "buckets: also cache.merged_bytes = 0, every request merges every bucket and encodes."
  echo "nginx: proxy_cache, 1 worker, in front of the simulator. direct: the simulator's response memo."
  echo "All servers single-threaded on core 0; wrk 1 thread on core 1. Medians of 3 runs (min-max)."
  echo
  echo "| request | server | conns | req/s | vs nginx | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|"
} >"$out"
for name in hour day24; do
  p=${!name}
  for c in 1 16 64; do
    declare -A med=()
    for s in nginx direct answers merge buckets; do
      r=(); p50=(); p99=()
      for run in 1 2 3; do
        o=$(taskset -c 1 wrk -t1 -c$c -d${secs}s --timeout 30s --latency -H 'Accept: application/json' "http://127.0.0.1:${port[$s]}$p")
        [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from $s"; echo "$o"; exit 1; }
        r+=("$(wrk_rps "$o")"); p50+=("$(wrk_lat "$o" 50)"); p99+=("$(wrk_lat "$o" 99)")
      done
      read -r m mn mx <<<"$(stats3 "${r[@]}")"
      read -r a _ _ <<<"$(stats3 "${p50[@]}")"
      read -r b _ _ <<<"$(stats3 "${p99[@]}")"
      med[$s]=$m
      ratio=$(awk -v x="$m" -v y="${med[nginx]}" 'BEGIN {printf "%.2f", x/y}')
      echo "| $name | $s | $c | $m ($mn-$mx) | $ratio | $a | $b |" | tee -a "$out"
    done
  done
done
echo >>"$out"
for s in answers merge buckets; do
  echo "profgate ($s) peak RSS: $(( $(awk '/VmHWM/ {print $2}' /proc/${pid[$s]}/status) / 1024 )) MB" >>"$out"
done
cat "$out"
