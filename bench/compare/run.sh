#!/usr/bin/env bash
# A/B: does a change make the hit path or the merge path slower? Builds BASE_REV (any revision,
# e.g. the commit before a refactor) in a scratch worktree and the working tree itself, both
# Release, and runs them side by side against one profgate-sim, with
# nginx proxy_cache as the anchor, on the same load:
#   hit64      one cached aligned hour (JSON, ~630 KB), 64 keep-alive connections, stored answers
#   encode16   the same hour with cache.response_bytes = 0: every request encodes, 16 connections
#   merge24h   an unaligned, fully cached 24 h (3,000 nodes per bucket), merged and encoded on every
#              request (cache.response_bytes = 0), one connection: latency
#   merge7d    the same for 7 days
#   merge24h-ion, merge7d-ion   the same two in Ion (GetProfile's default format)
#   slide24h, slide7d   "last 24 hours" and "last 7 days" ending now: the plan ends in a live bucket
#   slide24h-ion, slide7d-ion   the same two in Ion: what a dashboard on boto3's default gets; the
#              answer changes with the live bucket, so each request is a first Ion write
# WORKLOADS (environment): the workloads to run (default: all).
# NODES (environment, default 3000): call-tree nodes per bucket (30000 for the large case).
# Contenders are interleaved within each repetition, in an order that rotates from one
# repetition to the next, so machine drift hits all of them alike. Servers on core 0, wrk on
# core 1. Reports the median and min-max of REPS runs, and head/base and each/nginx ratios.
# Usage: bench/compare/run.sh BASE_REV [SECONDS_PER_RUN (10)] [REPS (5)]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
base_rev=${1:?usage: bench/compare/run.sh BASE_REV [SECONDS] [REPS]}
secs=${2:-10}
reps=${3:-5}
bench_prepare
bench_start
base_sha=$(git rev-parse --short "$base_rev")
head_sha="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include CMakeLists.txt || echo +changes)"
git worktree add -q --detach "$work/base" "$base_rev"
trap 'git worktree remove --force "$work/base" 2>/dev/null; bench_cleanup' EXIT
cmake -S "$work/base" -B "$work/base/build-release" -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build "$work/base/build-release" -j"$(nproc)" --target profgate >/dev/null
declare -A bin=([base]="$work/base/build-release/profgate" [head]=build-release/profgate)

clock='2026-11-25T09:30:00Z!'
declare -A port
for s in sim nginx base head base-merge head-merge; do port[$s]=$(free_port); done
nodes=${NODES:-3000}
taskset -c 0 build-release/profgate-sim --listen 127.0.0.1:${port[sim]} --clock "$clock" --nodes "$nodes" \
  --cache-mb 4096 --log-level warn 2>"$work/sim.log" &
pids+=($!)
printf '[cache]\nmemory_bytes = 2g\n' >"$work/stored.conf"
printf '[cache]\nmemory_bytes = 2g\nresponse_bytes = 0\n' >"$work/merge.conf"
for v in base head; do
  for kind in stored merge; do
    name=$v; [ $kind = merge ] && name=$v-merge
    taskset -c 0 "${bin[$v]}" -c "$work/$kind.conf" --listen 127.0.0.1:${port[$name]} \
      --upstream http://127.0.0.1:${port[sim]} --clock "$clock" --log-level warn 2>"$work/$name.log" &
    pids+=($!)
  done
done
PIN=0 start_nginx_cache "$work" "${port[nginx]}" "${port[sim]}"
for s in nginx base head base-merge head-merge; do wait_http "http://127.0.0.1:${port[$s]}/healthz"; done

declare -A path=(
  [hit64]='/profilingGroups/bench/profile?startTime=2026-11-23T10%3A00%3A00Z&period=PT1H'
  [encode16]='/profilingGroups/bench/profile?startTime=2026-11-23T10%3A00%3A00Z&period=PT1H'
  [merge24h]='/profilingGroups/bench/profile?startTime=2026-11-24T09%3A07%3A00Z&endTime=2026-11-25T09%3A07%3A00Z'
  [merge7d]='/profilingGroups/bench/profile?startTime=2026-11-18T09%3A07%3A00Z&endTime=2026-11-25T09%3A07%3A00Z'
)
path[merge24h-ion]=${path[merge24h]}
path[merge7d-ion]=${path[merge7d]}
# Sliding: endTime = now (the clock), so the plan ends in the bucket that is still live.
path[slide24h]='/profilingGroups/bench/profile?startTime=2026-11-24T09%3A30%3A00Z&endTime=2026-11-25T09%3A30%3A00Z'
path[slide7d]='/profilingGroups/bench/profile?startTime=2026-11-18T09%3A30%3A00Z&endTime=2026-11-25T09%3A30%3A00Z'
path[slide24h-ion]=${path[slide24h]}
path[slide7d-ion]=${path[slide7d]}
declare -A conns=([hit64]=64 [encode16]=16 [merge24h]=1 [merge7d]=1 [merge24h-ion]=1 [merge7d-ion]=1 [slide24h]=1 [slide7d]=1 [slide24h-ion]=1 [slide7d-ion]=1)
declare -A who=([hit64]="nginx base head" [encode16]="nginx base-merge head-merge"
                [merge24h]="nginx base-merge head-merge" [merge7d]="nginx base-merge head-merge"
                [merge24h-ion]="nginx base-merge head-merge" [merge7d-ion]="nginx base-merge head-merge"
                [slide24h]="nginx base-merge head-merge" [slide7d]="nginx base-merge head-merge"
                [slide24h-ion]="nginx base-merge head-merge" [slide7d-ion]="nginx base-merge head-merge")
declare -A accept=([hit64]=application/json [encode16]=application/json [merge24h]=application/json
                   [merge7d]=application/json [merge24h-ion]=application/x-amzn-ion [merge7d-ion]=application/x-amzn-ion
                   [slide24h]=application/json [slide7d]=application/json
                   [slide24h-ion]=application/x-amzn-ion [slide7d-ion]=application/x-amzn-ion)
# WORKLOADS (environment): a subset, e.g. "slide24h slide7d".
read -r -a workloads <<<"${WORKLOADS:-hit64 encode16 merge24h merge7d merge24h-ion merge7d-ion slide24h slide7d slide24h-ion slide7d-ion}"

# Warm every cache and check that every contender answers the simulator's bytes.
for w in "${workloads[@]}"; do
  want=$(curl -sf -H "Accept: ${accept[$w]}" "http://127.0.0.1:${port[sim]}${path[$w]}" | md5sum)
  for s in ${who[$w]}; do
    for _ in 1 2; do
      got=$(curl -sf -H "Accept: ${accept[$w]}" "http://127.0.0.1:${port[$s]}${path[$w]}" | md5sum)
      [ "$got" = "$want" ] || { echo "bench: $s answers $w differently from the simulator" >&2; exit 1; }
    done
  done
done

declare -A rps p50
for ((r = 0; r < reps; r++)); do
  for w in "${workloads[@]}"; do
    read -r -a order <<<"${who[$w]}"
    n=${#order[@]}
    for ((i = 0; i < n; i++)); do # rotate the order each repetition
      s=${order[$(((i + r) % n))]}
      o=$(taskset -c "${WRK_CPU:-1}" wrk -t1 -c"${conns[$w]}" -d"$secs"s --timeout 30s --latency \
        -H "Accept: ${accept[$w]}" "http://127.0.0.1:${port[$s]}${path[$w]}")
      [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from $s on $w" >&2; echo "$o" >&2; exit 1; }
      rps[$w.$s]+="$(wrk_rps "$o") "
      p50[$w.$s]+="$(wrk_lat "$o" 50) "
    done
  done
done

# median min max of a list
stat() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%s %s %s", a[int((NR+1)/2)], a[1], a[NR]}'; }
out=$(report_file "compare$([ "$nodes" = 3000 ] || echo "-$nodes")")
{
  echo "## A/B: base $base_sha vs head $head_sha ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per run, $reps repetitions, $nodes nodes per bucket)"
  echo
  echo "Contenders interleaved within each repetition (order rotated). Medians (min-max). nginx proxy_cache is the anchor."
  echo
  echo "| workload | conns | contender | req/s | p50 ms | req/s vs nginx | head/base req/s | head/base p50 |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$out"
for w in "${workloads[@]}"; do
  read -r -a order <<<"${who[$w]}"
  read -r ng _ _ <<<"$(stat "${rps[$w.nginx]}")"
  b=${order[1]} h=${order[2]}
  read -r br _ _ <<<"$(stat "${rps[$w.$b]}")"; read -r hr _ _ <<<"$(stat "${rps[$w.$h]}")"
  read -r bp _ _ <<<"$(stat "${p50[$w.$b]}")"; read -r hp _ _ <<<"$(stat "${p50[$w.$h]}")"
  for s in "${order[@]}"; do
    read -r m mn mx <<<"$(stat "${rps[$w.$s]}")"
    read -r lm lmn lmx <<<"$(stat "${p50[$w.$s]}")"
    vs=$(awk -v x="$m" -v y="$ng" 'BEGIN {printf "%.2f", x/y}')
    hb=""; hbp=""
    if [ "$s" = "$h" ]; then
      hb=$(awk -v x="$hr" -v y="$br" 'BEGIN {printf "%.3f", x/y}')
      hbp=$(awk -v x="$hp" -v y="$bp" 'BEGIN {printf "%.3f", x/y}')
    fi
    echo "| $w | ${conns[$w]} | $s | $m ($mn-$mx) | $lm ($lmn-$lmx) | $vs | $hb | $hbp |" | tee -a "$out"
  done
done
cat "$out"
