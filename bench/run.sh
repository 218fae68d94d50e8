#!/usr/bin/env bash
# The whole benchmark report of issue #7 in one command (as root, on Debian 12): installs what it
# needs (wrk, nginx, Varnish, gnuplot), builds profgate in Release, runs the five workloads one
# after another (each starts and stops its own simulator, Redis, anchors and profgate on free
# loopback ports), and writes bench/results/<date>-<host>.md with the PNG plots beside it.
# Takes about 45 minutes on 2 cores. Run nothing else meanwhile: every workload compares
# contenders measured in the same run, but a busy machine still widens the ranges.
# Usage: bench/run.sh [WORKLOAD...]   (default: hitpath dashboards fanout merge connections tenants)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
workloads=("$@")
((${#workloads[@]})) || workloads=(hitpath dashboards fanout merge connections tenants)
bench_prepare varnish gnuplot-nox
export BENCH_BUILT=1
BENCH_PARTS=$(mktemp -d)
export BENCH_PARTS
trap 'rm -rf "$BENCH_PARTS"' EXIT
started=$(date -u +%Y-%m-%dT%H:%MZ)
version=$(git describe --always --dirty 2>/dev/null || echo unknown) # what the Release build was made from
for w in "${workloads[@]}"; do
  echo "bench: workload $w" >&2
  "bench/$w/run.sh" >&2
done
out="bench/results/$(date -u +%Y-%m-%d)-$(hostname -s).md"
{
  echo "# profgate benchmark report ($started to $(date -u +%Y-%m-%dT%H:%MZ), $(hostname -s))"
  echo
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), Linux $(uname -r)."
  echo "Anchors: $(nginx -v 2>&1 | sed 's/.*: //'), $(varnishd -V 2>&1 | head -1 | sed 's/^varnishd (\([^ ]*\) .*/\1/'), $(redis-server --version | awk '{print "redis " $3}' | tr -d 'v='),"
  echo "wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'). profgate $version."
  echo "Every figure is a median over repeated runs with (min-max); every comparison is a ratio against an"
  echo "anchor measured in the same run. Do not compare absolute numbers across reports."
  echo
  echo "### Against the targets (issues #7 and #9)"
  echo
  cat "$BENCH_PARTS/targets" 2>/dev/null || echo "- (no workload reported a target)"
  echo
  for w in "${workloads[@]}"; do cat "$BENCH_PARTS/$w.md"; done
} >"$out"
echo "bench: wrote $out" >&2
cat "$out"
