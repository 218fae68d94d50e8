#!/usr/bin/env bash
# Issue #9's fairness bound: two teams share one endpoint in front of an upstream throttled like
# the service (10 req/s, burst 20, 50 ms latency). Team B runs 4 dashboards ("last 1h", endTime =
# now, once a second each); team A floods with 8 clients asking back to back for cold 6-hour
# ranges (bench/tenants/load.py). Contenders, each with a fresh simulator:
#   direct            both teams call the simulator themselves
#   profgate-open     profgate with auth.mode = off: one queue for everybody
#   profgate-tenants  profgate with auth.mode = sigv4, A and B as tenants of weight 1
#   profgate-b3       the same with team B's weight at 3
# Each repetition: B alone for 10 s (warm-up), B alone for ALONE s (baseline; default 15, a quick
# run uses 5), then B while A floods for 25 s. Every process runs on a clock (--clock; load.py's
# OFFSET) that starts 37 s before a 5-minute boundary, so every flood contains the two moments a
# dashboard can wait, apart: its live buckets reaching the end of their freshness (fetched in the
# warm-up, so 25-30 s in) and, 37 s in (12 s into the flood, 22 s with ALONE=5), a new 5-minute
# bucket that no cache can have. (Moving the boundary with ALONE made the two coincide.) Reported per contender (medians
# of REPS repetitions (default 3), min-max): B's p50/p99 alone and during the flood, B's slowest request during
# the flood, B's non-200 answers during the flood, A's completed requests. The bound stated
# (before the first measurement) for the tenant configurations: B's p99 during the flood under
# 1 s, and no 429s for B.
# Usage: bench/tenants/run.sh. Writes the table (see report_file).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_prepare gnuplot-nox
bench_start
cat >"$work/tenants.conf" <<'T'
[team-a]
access_key = AKIABENCHTEAMAAAAAA1
secret_key = bench-team-a-secret-00000000000001
groups = team-a-*
[team-b]
access_key = AKIABENCHTEAMBBBBBB2
secret_key = bench-team-b-secret-00000000000002
groups = team-b-*
T
sed 's/^groups = team-b-\*$/&\nweight = 3/' "$work/tenants.conf" >"$work/tenants-b3.conf"
chmod 600 "$work/tenants.conf" "$work/tenants-b3.conf"
printf '' >"$work/profgate-open.conf"
printf '[auth]\nmode = sigv4\ntenants_file = %s\n' "$work/tenants.conf" >"$work/profgate-tenants.conf"
printf '[auth]\nmode = sigv4\ntenants_file = %s\n' "$work/tenants-b3.conf" >"$work/profgate-b3.conf"

# A 5-minute boundary 37 s after the clock starts: in the flood (10 s warm-up + ALONE s alone
# + up to 25 s of flood) when ALONE is 5 to 15.
alone_s=${ALONE:-15}
((alone_s >= 5 && alone_s <= 15)) || { echo "ALONE must be 5 to 15" >&2; exit 2; }
reps=${REPS:-3}
clock=2026-11-26T12:04:23Z
clock_s=$(date -u -d "$clock" +%s)

# start CONTENDER: a fresh simulator, and profgate in front of it unless direct; sets url and
# offset (what load.py adds to this machine's clock to be on theirs).
start() {
  local sp gp
  sp=$(free_port)
  offset=$(awk -v c="$clock_s" -v n="$(date +%s.%N)" 'BEGIN {printf "%.3f", c - n}')
  build-release/profgate-sim --listen 127.0.0.1:$sp --nodes 300 --rate 10 --burst 20 --latency-ms 50 \
    --clock "$clock" --log-level warn 2>>"$work/sim.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$sp/healthz"
  url=http://127.0.0.1:$sp
  [ "$1" = direct ] && return
  gp=$(free_port)
  build-release/profgate -c "$work/$1.conf" --listen 127.0.0.1:$gp --upstream "$url" --log-level warn \
    --clock "$clock" 2>>"$work/$1.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$gp/healthz"
  url=http://127.0.0.1:$gp
}
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

out=$(report_file tenants)
{
  echo "## Teams: one team's flood against another's dashboards ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Upstream: profgate-sim, 10 req/s burst 20, 50 ms, 300-node buckets. Team B: 4 dashboards, \"last 1h\" once a"
  echo "second each. Team A: 8 clients asking back to back for cold 6-hour ranges. B alone ${alone_s} s, then with A's flood"
  echo "25 s, which contains the expiry of B's live buckets and a 5-minute boundary (a new bucket for every"
  echo "dashboard); $reps repetition(s) with fresh processes; medians (min-max). Latencies in ms."
  echo
  echo "| contender | B alone p50 | B alone p99 | B flooded p50 | B flooded p99 | B flooded max | B non-200 (flooded) | A requests done |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$out"
open_p99=- # profgate-open's, once it has run
# CONTENDERS (environment): a subset (bench/run.sh --quick leaves out profgate-b3).
for s in ${CONTENDERS:-direct profgate-open profgate-tenants profgate-b3}; do
  a50=(); a99=(); f50=(); f99=(); fmax=(); bad=(); adone=()
  for rep in $(seq "$reps"); do
    start "$s"
    /usr/bin/python3 bench/tenants/load.py "$url" 10 4 0 "$offset" >/dev/null
    alone=$(/usr/bin/python3 bench/tenants/load.py "$url" "$alone_s" 4 0 "$offset")
    flood=$(/usr/bin/python3 bench/tenants/load.py "$url" 25 4 8 "$offset")
    stop
    a50+=("$(field 'd["b"]["p50_ms"]' <<<"$alone")"); a99+=("$(field 'd["b"]["p99_ms"]' <<<"$alone")")
    f50+=("$(field 'd["b"]["p50_ms"]' <<<"$flood")"); f99+=("$(field 'd["b"]["p99_ms"]' <<<"$flood")")
    fmax+=("$(field 'd["b"]["max_ms"]' <<<"$flood")")
    bad+=("$(field 'd["b"]["n"] - d["b"]["codes"].get("200", 0)' <<<"$flood")")
    adone+=("$(field 'd["a"]["codes"].get("200", 0)' <<<"$flood")")
  done
  read -r x _ _ <<<"$(stats3 "${a50[@]}")"; read -r y _ _ <<<"$(stats3 "${a99[@]}")"
  read -r p pmin pmax <<<"$(stats3 "${f50[@]}")"; read -r q qmin qmax <<<"$(stats3 "${f99[@]}")"
  read -r mm mmin mmax <<<"$(stats3 "${fmax[@]}")"
  read -r bm bmin bmax <<<"$(stats3 "${bad[@]}")"; read -r am _ _ <<<"$(stats3 "${adone[@]}")"
  echo "| $s | $x | $y | $p ($pmin-$pmax) | $q ($qmin-$qmax) | $mm ($mmin-$mmax) | $bm ($bmin-$bmax) | $am |" | tee -a "$out"
  if [ "$s" = profgate-tenants ] || [ "$s" = profgate-b3 ]; then
    verdict=$(awk -v q="$qmax" -v b="$bmax" 'BEGIN {print (q < 1000 && b == 0) ? "met" : "not met"}')
    target "Issue #9 (team B's dashboards while team A floods, $s): B's p99 at most $qmax ms over $reps runs, slowest request $mmax ms (one queue: p99 $open_p99 ms), B's non-200 answers at most $bmax (bound: p99 < 1000 ms, none): $verdict"
  fi
  [ "$s" = profgate-open ] && open_p99=$q
  echo "$s $y $q" >>"$work/plot.dat"
done
png=$(result_base tenants).png
gnuplot <<GP
set terminal pngcairo size 900,420
set output "$png"
set title "Team B's dashboards: p99 latency alone and while team A floods (median of $reps)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "B's p99 ms (log)"
set grid ytics
plot "$work/plot.dat" using 2:xtic(1) title "B alone", "" using 3 title "B while A floods"
GP
{ echo; echo "![team B's p99]($(basename "$png"))"; echo; } >>"$out"
cat "$out"
