#!/usr/bin/env bash
# A soak (not in CI): Redis, the simulator and a Release profgate with bounded caches, under
# scripts/soak_load.py's mixed load (hits, sliding windows, cold ranges, ListProfileTimes, bad
# requests, clients that leave, slow readers) for MINUTES (default 30). Every SOAK_INTERVAL
# seconds (default 60) it samples profgate's resident memory, open descriptors and its own
# accounting (/metrics), and at the end fits a line through the samples after the first third
# (the caches filling is expected; growth after that is a leak): the slopes, in KiB and
# descriptors per minute, should be flat. Writes bench/results/<date>-<host>-soak.md.
# Usage: scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
minutes=${1:-30}
interval=${SOAK_INTERVAL:-60}
bench_prepare

work=$(mktemp -d /tmp/pg-soak.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --maxmemory 512mb \
  --maxmemory-policy allkeys-lru >/dev/null &
pids+=($!)
sport=$(free_port)
build-release/profgate-sim --listen "127.0.0.1:$sport" --nodes 1500 --rate 50 --burst 100 \
  --fail-rate 0.01 --log-level warn 2>"$work/sim.log" &
pids+=($!)
gport=$(free_port)
cat >"$work/profgate.conf" <<EOF
[server]
spill_dir = $work
[log]
level = warn
[upstream]
credentials = none
rate = 40
burst = 80
[cache]
memory_bytes = 64m
response_bytes = 16m
merged_bytes = 32m
[redis]
url = redis://127.0.0.1:$rport
EOF
wait_http "http://127.0.0.1:$sport/healthz"
build-release/profgate --listen "127.0.0.1:$gport" --upstream "http://127.0.0.1:$sport" -c "$work/profgate.conf" \
  2>"$work/profgate.log" &
gpid=$!
pids+=($gpid)
wait_http "http://127.0.0.1:$gport/healthz"

/usr/bin/python3 scripts/soak_load.py "$gport" "$((minutes * 60))" 8 >"$work/load.json" &
lpid=$!
pids+=($lpid)

# metric NAME: the sum of its series (every label set).
metric() {
  curl -s "http://127.0.0.1:$gport/metrics" |
    awk -v n="$1" 'index($1, n) == 1 && (length($1) == length(n) || substr($1, length(n) + 1, 1) == "{") {s += $2}
                   END {printf "%d", s}'
}
samples=$work/samples
echo "minute rss_kib fds inflight_bytes cache_bytes" >"$samples"
start=$(date +%s)
while kill -0 "$lpid" 2>/dev/null; do
  t=$(( ($(date +%s) - start) ))
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$gpid/status")
  fds=$(ls "/proc/$gpid/fd" | wc -l)
  echo "$(awk -v t="$t" 'BEGIN {printf "%.1f", t / 60}') $rss $fds $(metric profgate_inflight_bytes) $(metric profgate_cache_bytes)" >>"$samples"
  # Paces the sampling; the load runs on its own.
  sleep "$interval"
done
wait "$lpid"

out=$(result_base soak).md
{
  echo "# Soak: $minutes minutes of mixed load ($(date -u +%Y-%m-%dT%H:%MZ), $(hostname -s), $(nproc) cores)"
  echo
  echo "profgate $(build-release/profgate --version | awk '{print $2}'), Release; caches 64m + 16m + 32m; simulator"
  echo "1,500 nodes per bucket, 50 req/s, 1% failures; scripts/soak_load.py with 8 threads."
  echo
  echo "Answers by status: \`$(cat "$work/load.json")\`"
  echo
  echo "| minute | RSS (KiB) | open fds | in-flight bytes | in-process caches (bytes, all tiers) |"
  echo "|---|---|---|---|---|"
  tail -n +2 "$samples" | awk '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}'
  echo
  # Least squares over the samples after the first third (warm-up: caches filling).
  tail -n +2 "$samples" | awk '
    { m[NR] = $1; r[NR] = $2; f[NR] = $3 }
    END {
      from = int(NR / 3) + 1; n = 0
      for (i = from; i <= NR; i++) { n++; sx += m[i]; sr += r[i]; sf += f[i]; sxx += m[i] * m[i]; sxr += m[i] * r[i]; sxf += m[i] * f[i] }
      d = n * sxx - sx * sx
      if (n < 2 || d == 0) { print "Too few samples for a slope."; exit }
      printf "Slope after minute %s (%d samples): RSS %+.1f KiB/min, open fds %+.2f/min.\n", m[from], n, (n * sxr - sx * sr) / d, (n * sxf - sx * sf) / d
    }'
} >"$out"
cat "$out"
if grep -qE '"error:' "$work/load.json"; then
  echo "soak: some requests failed at the socket level (see the status counts)" >&2
fi
