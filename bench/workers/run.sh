#!/usr/bin/env bash
# Workers (issue #21): do sliding-window requests per second scale with server.workers? One
# profgate with workers = 1 and one with workers = 2 (fleet on and one Redis for both, as more
# than one worker requires), answering "last 24 hours" ending now (a live last bucket) with
# cache.response_bytes = 0, so every request merges and encodes: the work that grows with users.
# Both in front of the same simulator; wrk on core 0 with 8 connections, the workers on cores 1
# and 2 (taskset; the simulator shares core 0, and is idle once the buckets are cached). Each
# repetition runs both, in rotated order, and the ratio is taken per repetition.
# Needs 3 CPUs: a ratio measured with wrk on the workers' cores says nothing about scaling, so on
# fewer the report says so and measures nothing. SHARED=1 runs anyway on cores 0-1 (to check the
# script, never for the figure).
# Usage: bench/workers/run.sh [SECONDS (10)] [REPS (5)]. Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-10}
reps=${2:-5}
out=$(report_file workers)
cpus=$(nproc)
if [ "$cpus" -lt 3 ] && [ "${SHARED:-0}" != 1 ]; then
  {
    echo "## Workers scaling ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "Not measured: this machine has $cpus CPUs, and the workload needs 3 (wrk on its own core, two"
    echo "workers on two more). Run bench/workers/run.sh on a machine with 3 or more."
  } >"$out"
  cat "$out"
  exit 0
fi
if [ "$cpus" -ge 3 ]; then wcpus=1,2 wrk_cpu=0; else wcpus=0,1 wrk_cpu=1; fi
bench_prepare redis-server
bench_start
clock='2026-11-25T09:30:00Z!'
declare -A port
for s in sim redis w1 w2; do port[$s]=$(free_port); done
taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:${port[sim]} --clock "$clock" --nodes 3000 \
  --cache-mb 4096 --log-level warn 2>"$work/sim.log" &
pids+=($!)
redis-server --port "${port[redis]}" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for w in 1 2; do
  # Each its own namespace: the two must not share buckets or budget through Redis.
  printf '[server]\nworkers = %s\n[cache]\nmemory_bytes = 2g\nresponse_bytes = 0\nnamespace = w%s\n[redis]\nurl = redis://127.0.0.1:%s\n[fleet]\nenabled = on\n[log]\naccess = off\n' \
    "$w" "$w" "${port[redis]}" >"$work/w$w.conf"
  taskset -c "$wcpus" build-release/profgate -c "$work/w$w.conf" --listen 127.0.0.1:${port[w$w]} \
    --upstream http://127.0.0.1:${port[sim]} --clock "$clock" --log-level warn 2>"$work/w$w.log" &
  pids+=($!)
done
for s in w1 w2; do wait_http "http://127.0.0.1:${port[$s]}/healthz"; done
path='/profilingGroups/bench/profile?startTime=2026-11-24T09%3A30%3A00Z&endTime=2026-11-25T09%3A30%3A00Z'
want=$(curl -sf -H 'Accept: application/json' "http://127.0.0.1:${port[sim]}$path" | md5sum)
for s in w1 w2; do
  # Every worker fills its own in-process cache: a short run over many connections reaches them all.
  WRK_CPU=$wrk_cpu wrk1 16 3 "http://127.0.0.1:${port[$s]}$path" -H 'Accept: application/json' >/dev/null
  got=$(curl -sf -H 'Accept: application/json' "http://127.0.0.1:${port[$s]}$path" | md5sum)
  [ "$got" = "$want" ] || { echo "bench: $s answers differently from the simulator" >&2; exit 1; }
done
declare -A rps
ratios=""
for ((r = 0; r < reps; r++)); do
  order="w1 w2"; ((r % 2)) && order="w2 w1"
  declare -A this=()
  for s in $order; do
    read -r q _ _ <<<"$(WRK_CPU=$wrk_cpu wrk1 8 "$secs" "http://127.0.0.1:${port[$s]}$path" -H 'Accept: application/json')"
    rps[$s]+="$q "
    this[$s]=$q
  done
  ratios+="$(awk -v a="${this[w2]}" -v b="${this[w1]}" 'BEGIN {printf "%.3f", a / b}') "
done
{
  echo "## Workers scaling ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per run, $reps repetitions, $cpus CPUs)"
  echo
  echo "\"Last 24 hours\" ending now, 3,000 nodes per bucket, every request merged and encoded"
  echo "(\`cache.response_bytes = 0\`), JSON, 8 connections; wrk on core $wrk_cpu, the workers on cores $wcpus."
  [ "$cpus" -ge 3 ] || echo "**SHARED=1 on $cpus CPUs: wrk shares the workers' cores; this checks the script, it is not a scaling figure.**"
  echo "Medians (min-max); the ratio is taken within each repetition."
  echo
  echo "| server.workers | req/s |"
  echo "|---|---|"
  for w in 1 2; do
    read -r m lo hi <<<"$(stats3 ${rps[w$w]})"
    echo "| $w | $m ($lo-$hi) |"
  done
  read -r m lo hi <<<"$(stats3 $ratios)"
  echo
  echo "2 workers / 1 worker: **${m}x** ($lo-$hi)"
} >"$out"
cat "$out"
