#!/usr/bin/env bash
# The whole benchmark report of issue #7 in one command (as root, on Debian 12): installs what it
# needs (wrk, nginx, Varnish, gnuplot), builds profgate in Release, runs the five workloads one
# after another (each starts and stops its own simulator, Redis, anchors and profgate on free
# loopback ports), and writes bench/results/<date>-<host>.md with the PNG plots beside it.
# Takes about 45 minutes on 2 cores. Run nothing else meanwhile: every workload compares
# contenders measured in the same run, but a busy machine still widens the ranges.
# Usage: bench/run.sh [--quick] [WORKLOAD...]
#   (default: hitpath dashboards fanout merge connections tenants memory)
# --quick runs every workload in about 10 minutes, to check a change: the same anchors, with
# shorter runs (hit path and merge 2 s per run, dashboards two runs of 4 s after a 10 s warm-up),
# one repetition of the fan-out, teams and connection workloads, 4,000 connections instead of
# 10,000, the hit path at 1 connection with wrk and 64 with pgload only, and the teams workload without its weight-3 configuration and with 5 s of team B alone
# instead of 15. Its report is named
# <stamp>-<host>-quick.md; ratios are noisier than the full run's, which stays the one to report.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
quick=
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
workloads=("$@")
((${#workloads[@]})) || workloads=(hitpath dashboards fanout merge connections tenants memory)
suffix=
declare -A wargs=()
if [ -n "$quick" ]; then
  suffix=-quick
  wargs=([hitpath]=2 [merge]=2 [dashboards]=4)
fi
bench_prepare varnish gnuplot-nox
export BENCH_BUILT=1
BENCH_PARTS=$(mktemp -d)
export BENCH_PARTS
trap 'rm -rf "$BENCH_PARTS"' EXIT
started=$(date -u +%Y-%m-%dT%H:%MZ)
version=$(git describe --always --dirty 2>/dev/null || echo unknown) # what the Release build was made from
for w in "${workloads[@]}"; do
  echo "bench: workload $w ($(date -u +%H:%M:%S))" >&2
  if [ -n "$quick" ]; then
    case $w in
      dashboards) QUICK=1 WARM=10 REPS=2 "bench/$w/run.sh" ${wargs[$w]} >&2 ;;
      fanout) REPS=1 "bench/$w/run.sh" >&2 ;;
      tenants) REPS=1 ALONE=5 CONTENDERS="direct profgate-open profgate-tenants" "bench/$w/run.sh" >&2 ;;
      connections) REPS=1 CONNS=4000 "bench/$w/run.sh" >&2 ;;
      hitpath) CASES="1:wrk 64:pgload" "bench/$w/run.sh" ${wargs[$w]} >&2 ;;
      *) "bench/$w/run.sh" ${wargs[$w]:-} >&2 ;;
    esac
  else
    "bench/$w/run.sh" >&2
  fi
done
out="bench/results/${BENCH_STAMP:-$(date -u +%Y-%m-%d)}-$(hostname -s)$suffix.md"
{
  echo "# profgate benchmark report ($started to $(date -u +%Y-%m-%dT%H:%MZ), $(hostname -s))"
  echo
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), Linux $(uname -r)."
  echo "Anchors: $(nginx -v 2>&1 | sed 's/.*: //'), $(varnishd -V 2>&1 | head -1 | sed 's/^varnishd (\([^ ]*\) .*/\1/'), $(redis-server --version | awk '{print "redis " $3}' | tr -d 'v='),"
  echo "wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'). profgate $version."
  echo "Every figure is a median over repeated runs with (min-max); every comparison is a ratio against an"
  echo "anchor measured in the same run. Do not compare absolute numbers across reports."
  echo
  echo "### Against the targets (issues #7, #9 and #21)${quick:+ - a quick run: shorter runs, fewer repetitions}"
  echo
  cat "$BENCH_PARTS/targets" 2>/dev/null || echo "- (no workload reported a target)"
  echo
  for w in "${workloads[@]}"; do cat "$BENCH_PARTS/$w.md"; done
} >"$out"
echo "bench: wrote $out" >&2
cat "$out"
