#!/usr/bin/env bash
# Workload 4 of issue #7, merge: fully cached unaligned "24h" and "7d" ranges at 3,000 and 30,000
# call-tree nodes per 5-minute bucket. Both ranges end at 09:07, 23 minutes before the (frozen)
# clock, so every bucket in them is complete and cached after one warm-up request; the ranges are
# unaligned, so each plan mixes 5-minute, hourly and daily buckets. One connection (the figure is
# latency). Contenders, per node count, in the same run:
#   direct          profgate-sim answering from its response memo - the anchor for the ratios
#   nginx           proxy_cache in front of profgate-sim (a cached copy of the same URL)
#   profgate        the default: a repeat of an all-complete request goes out from stored bytes
#   profgate-merge  cache.response_bytes = 0: every request folds the cached buckets (and stored
#                   merged runs of consecutive buckets) and encodes the result
# Each profgate is its own process with cache.memory_bytes = 2g (sized for the 30,000-node case),
# so its peak RSS (VmHWM, after warm-up and every run) is its own. REPS repetitions (default 3), contenders interleaved in rotated order; medians.
# Usage: bench/merge/run.sh [SECONDS_PER_RUN] (default 10). Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
secs=${1:-10}
reps=${REPS:-3}
bench_prepare gnuplot-nox
bench_start
clock='2026-11-25T09:30:00Z!'
declare -A range=(
  [24h]='startTime=2026-11-24T09%3A07%3A00Z&endTime=2026-11-25T09%3A07%3A00Z'
  [7d]='startTime=2026-11-18T09%3A07%3A00Z&endTime=2026-11-25T09%3A07%3A00Z'
)
contenders=(direct nginx profgate profgate-merge)
out=$(report_file merge)
{
  echo "## Workload 4: merge ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per run)"
  echo
  echo "Unaligned 24 h and 7 d ranges ending 09:07, every bucket complete and cached; JSON; one connection;"
  echo "servers on core 0, wrk on core 1. profgate: stored answers. profgate-merge: \`cache.response_bytes = 0\`,"
  echo "every request merges and encodes. direct: profgate-sim's response memo. $reps repetitions, contenders"
  echo "interleaved in rotated order within each; medians (min-max)."
  echo "Peak RSS: profgate's VmHWM after warm-up and all runs at that node count."
  echo
  echo "| nodes/bucket | range | buckets | answer KB | contender | req/s | p50 ms | p99 ms | p50 vs direct | profgate peak RSS MB |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$out"
for nodes in 3000 30000; do
  d="$work/n$nodes"
  mkdir -m 755 "$d"
  declare -A port=() pid=()
  for s in sim nginx profgate profgate-merge; do port[$s]=$(free_port); done
  port[direct]=${port[sim]}
  taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:${port[sim]} --clock "$clock" --nodes $nodes \
    --cache-mb 4096 --log-level warn 2>"$d/sim.log" &
  pids+=($!)
  printf '[cache]\nmemory_bytes = 2g\n' >"$d/profgate.conf"
  printf '[cache]\nmemory_bytes = 2g\nresponse_bytes = 0\n' >"$d/profgate-merge.conf"
  for s in profgate profgate-merge; do
    taskset -c 0 build-release/profgate -c "$d/$s.conf" --listen 127.0.0.1:${port[$s]} \
      --upstream http://127.0.0.1:${port[sim]} --clock "$clock" --log-level warn 2>"$d/$s.log" &
    pid[$s]=$!
    pids+=($!)
  done
  PIN=0 start_nginx_cache "$d" "${port[nginx]}" "${port[sim]}"
  for s in "${contenders[@]}"; do wait_http "http://127.0.0.1:${port[$s]}/healthz"; done
  for r in 24h 7d; do
    path="/profilingGroups/bench/profile?${range[$r]}"
    want=$(curl -sf -H 'Accept: application/json' "http://127.0.0.1:${port[sim]}$path" | md5sum)
    for s in "${contenders[@]}"; do # warm, then check: the same bytes everywhere, and all from cache
      for _ in 1 2; do
        got=$(curl -sf -D "$d/head" -H 'Accept: application/json' "http://127.0.0.1:${port[$s]}$path" | md5sum)
        [ "$got" = "$want" ] || { echo "bench: $s answers $r differently from the simulator" >&2; exit 1; }
      done
      if [[ $s == profgate* ]]; then
        grep -qi '^x-profgate-cache: hit' "$d/head" || { echo "bench: $s did not answer $r from its cache" >&2; exit 1; }
        buckets=$(tr -d '\r' <"$d/head" | awk -F': ' 'tolower($1)=="x-profgate-buckets" {sub(/^total=/,"",$2); sub(/ .*/,"",$2); print $2}')
      fi
    done
    kb=$(($(curl -s -H 'Accept: application/json' "http://127.0.0.1:${port[sim]}$path" | wc -c) / 1024))
    declare -A p50=() R=() P50=() P99=()
    n=${#contenders[@]}
    for rep in $(seq "$reps"); do
      for k in $(seq 0 $((n - 1))); do # rotated: drift hits every contender alike
        s=${contenders[$(((k + rep - 1) % n))]}
        read -r x a b <<<"$(wrk1 1 "$secs" "http://127.0.0.1:${port[$s]}$path" -H 'Accept: application/json')"
        R[$s]+=" $x"; P50[$s]+=" $a"; P99[$s]+=" $b"
      done
    done
    for s in "${contenders[@]}"; do
      read -r m mn mx <<<"$(stats3 ${R[$s]})"
      read -r a _ _ <<<"$(stats3 ${P50[$s]})"
      read -r b _ _ <<<"$(stats3 ${P99[$s]})"
      p50[$s]=$a
      ratio=$(awk -v x="$a" -v y="${p50[direct]}" 'BEGIN {printf "%.2f", x/y}')
      rss=-; [[ $s == profgate* ]] && rss=$(peak_rss_mb "${pid[$s]}")
      echo "| $nodes | $r | $buckets | $kb | $s | $m ($mn-$mx) | $a | $b | $ratio | $rss |" | tee -a "$out"
      printf '%s ' "$a" >>"$work/plot.$nodes.$r"
    done
    if [ "$nodes $r" = "3000 24h" ]; then
      verdict=$(awk -v x="${p50[profgate-merge]}" 'BEGIN {print (x < 10) ? "met" : "not met"}')
      target "Workload 4 (fully cached 24h at 3,000 nodes): p50 ${p50[profgate-merge]} ms merging on every request, ${p50[profgate]} ms from stored answers (target < 10 ms): $verdict"
    fi
    # Issue #21's targets for merging on every request: 3,000 nodes 24 h <= 2 ms, 7 d <= 4 ms;
    # 30,000 nodes 24 h <= 20 ms, 7 d <= 30 ms (and peak RSS <= 200 MB, below).
    case "$nodes $r" in "3000 24h") lim=2 ;; "3000 7d") lim=4 ;; "30000 24h") lim=20 ;; *) lim=30 ;; esac
    verdict=$(awk -v x="${p50[profgate-merge]}" -v l=$lim 'BEGIN {print (x <= l) ? "met" : "not met"}')
    target "Issue #21 (merging a fully cached $r at $nodes nodes on every request): p50 ${p50[profgate-merge]} ms (target <= $lim ms): $verdict"
  done
  if [ "$nodes" = 30000 ]; then
    rss=$(peak_rss_mb "${pid[profgate-merge]}")
    verdict=$(awk -v x="$rss" 'BEGIN {print (x <= 200) ? "met" : "not met"}')
    target "Issue #21 (peak RSS merging 24 h and 7 d at 30,000 nodes on every request): $rss MB (target <= 200 MB): $verdict"
  fi
  kill "${pid[@]}" "${port[sim]}" 2>/dev/null || true
  stop_anchors "$d"
done
# One line per case: its label, then each contender's p50.
for nodes in 3000 30000; do for r in 24h 7d; do
  echo "$((nodes / 1000))k-$r $(cat "$work/plot.$nodes.$r")" >>"$work/plot.dat"
done; done
png=$(result_base merge).png
bar_plot "$png" "Fully cached unaligned ranges: p50 latency by nodes per bucket and range (median of $reps)" \
  "p50 ms (log)" "set logscale y" "$work/plot.dat" "${contenders[@]}"
cat "$out"
