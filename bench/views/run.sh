#!/usr/bin/env bash
# The encoders (issues #19 and #21): a merged 24-hour profile at 3,000 and 30,000 call-tree nodes
# per 5-minute bucket, encoded as JSON (the anchor: GetProfile's answer), Ion, folded stacks,
# pprof (protobuf, then gzip as served) and speedscope, interleaved within each repetition;
# memcpy for scale.
# Usage: [PROCS=N] bench/views/run.sh [REPS] [BASE_REV] (default 7 repetitions). With BASE_REV, the same
# benchmark program is also built against that revision's libraries (a scratch worktree) and the
# two builds alternate, base first in odd rounds, head first in even ones; the table then has each
# encoder's base and head medians and the head/base ratio. Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
reps=${1:-7}
base_rev=${2:-}
procs=${PROCS:-1} # PROCS=N: also run each size in N separate processes and report the spread
bench_prepare
cmake --build build-release -j"$(nproc)" --target encode_bench >/dev/null
if [ -z "$base_rev" ]; then
  out=$(report_file views)
  {
    echo "## The encoders ($(date -u +%Y-%m-%dT%H:%MZ), $reps repetitions)"
    echo
    echo "A 24-hour profile merged from 288 five-minute buckets of the simulator's generator; one core;"
    echo "contenders interleaved in rotated order within each repetition. MB/s is of each encoder's own output."
    echo
    for nodes in 3000 30000; do
      taskset -c 0 build-release/encode_bench "$nodes" "$reps" | { if [ "$nodes" = 30000 ]; then tail -n +3; else cat; fi; }
    done
    if ((procs > 1)); then
      # One process's medians can sit in a slow mode of this host for the whole process (seen:
      # Ion at 30,000 nodes 2.5 ms in most processes, 3.5-4.3 ms in some, on either core, with
      # THP on or off, with ASLR on or off), so the spread over separate processes is reported.
      echo
      echo "### Across $procs separate processes (each $reps repetitions, contenders interleaved inside)"
      echo
      echo "Each process's median, then the median (min-max) of those; MB/s at that median; the last"
      echo "column counts the processes whose median reached 1 GB/s (1,024 MB/s of the encoder's output)."
      echo
      echo "| nodes/bucket | encoder | output KB | ms over processes | MB/s | processes at 1 GB/s |"
      echo "|---|---|---|---|---|---|"
      for nodes in 3000 30000; do
        for ((i = 1; i <= procs; i++)); do
          taskset -c 0 build-release/encode_bench "$nodes" "$reps" |
            awk -F'|' '$2 ~ /[0-9]/ {gsub(/ /,"",$2); sub(/^ +/,"",$4); sub(/ +$/,"",$4); split($6,t," "); print $2 "|" $4 "|" t[1] "|" $5}'
        done
      done | python3 -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    nodes, enc, ms, kb = line.strip().split("|")
    r = rows.setdefault((int(nodes), enc), {"kb": int(kb), "ms": []})
    r["ms"].append(float(ms))
for (nodes, enc), r in rows.items():
    mbs = [r["kb"] / 1024 / (m / 1000) for m in r["ms"]]
    m = statistics.median(r["ms"])
    fast = sum(1 for x in mbs if x >= 1024)
    kb, lo, hi = r["kb"], min(r["ms"]), max(r["ms"])
    print(f"| {nodes} | {enc} | {kb} | {m:.2f} ({lo:.2f}-{hi:.2f}) | {kb / 1024 / (m / 1000):.0f} | {fast} of {len(mbs)} |")
'
    fi
  } >"$out"
  cat "$out"
  exit 0
fi
bench_start
git worktree add -q --detach "$work/base" "$base_rev"
trap 'git worktree remove --force "$work/base" 2>/dev/null; bench_cleanup' EXIT
cp bench/views/encode_bench.c "$work/base/bench/views/encode_bench.c" # the same program, the base's code
cmake -S "$work/base" -B "$work/base/build-release" -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build "$work/base/build-release" -j"$(nproc)" --target encode_bench >/dev/null
declare -A bin=([base]="$work/base/build-release/encode_bench" [head]=build-release/encode_bench)
for nodes in 3000 30000; do
  for ((r = 1; r <= reps; r++)); do
    order="base head"; ((r % 2)) || order="head base"
    for v in $order; do
      taskset -c 0 "${bin[$v]}" "$nodes" 3 | awk -F'|' -v v="$v" '$2 ~ /[0-9]/ {gsub(/ /,"",$2); sub(/^ +/,"",$4); sub(/ +$/,"",$4); split($6,t," "); print $2 "|" $4 "|" v "|" t[1] "|" $5}'
    done
  done
done >"$work/runs"
out=$(report_file views-ab)
{
  echo "## The encoders, base $(git rev-parse --short "$base_rev") vs head $(git rev-parse --short HEAD) ($(date -u +%Y-%m-%dT%H:%MZ), $reps rounds)"
  echo
  echo "The same program (bench/views/encode_bench.c) built against both; each round runs both builds (3"
  echo "repetitions each, contenders interleaved inside), alternating which goes first. ms: median of the"
  echo "rounds' medians (min-max); MB/s of the encoder's own output at the head's median."
  echo
  echo "| nodes/bucket | encoder | output KB | base ms | head ms | head/base | head MB/s |"
  echo "|---|---|---|---|---|---|---|"
  python3 - "$work/runs" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    nodes, enc, who, ms, kb = line.strip().split("|")
    rows.setdefault((int(nodes), enc), {}).setdefault(who, []).append(float(ms))
    rows[(int(nodes), enc)]["kb"] = int(kb)
for (nodes, enc), v in sorted(rows.items(), key=lambda x: x[0][0]):
    h = statistics.median(v["head"])
    head = f"{h:.2f} ({min(v['head']):.2f}-{max(v['head']):.2f})"
    if "base" not in v:  # a contender the base's tree cannot run (e.g. "ion, layout kept")
        print(f"| {nodes} | {enc} | {v['kb']} | - | {head} | - | {v['kb'] / 1024 / (h / 1000):.0f} |")
        continue
    b = statistics.median(v["base"])
    print(f"| {nodes} | {enc} | {v['kb']} | {b:.2f} ({min(v['base']):.2f}-{max(v['base']):.2f}) | "
          f"{head} | {h / b:.2f} | {v['kb'] / 1024 / (h / 1000):.0f} |")
PY
} >"$out"
cat "$out"
