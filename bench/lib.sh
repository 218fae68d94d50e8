# Shared helpers for bench scripts: free ports, readiness, wrk parsing, medians. Sourced, not run.

# Every profgate here talks to profgate-sim without --access-key: its requests go out unsigned.
# Without this, the credentials chain would end at EC2 instance metadata and wait for it.
export AWS_EC2_METADATA_DISABLED=true

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: polls until the URL answers (any status), for at most 10 s.
wait_http() {
  for _ in $(seq 1 1000); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.01
  done
  echo "bench: $1 did not come up" >&2
  return 1
}

# wrk_rps OUTPUT: requests/s from wrk's summary.
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' <<<"$1"; }
# wrk_lat OUTPUT PCT: latency percentile in ms (wrk --latency prints 50%, 99%).
wrk_lat() {
  awk -v p="$2%" '$1==p { v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v }' <<<"$1"
}
# wrk_errors OUTPUT: non-2xx/3xx plus socket errors.
wrk_errors() {
  awk '/Non-2xx or 3xx responses:/ {n+=$NF} /Socket errors:/ {gsub(",",""); n+=$4+$6+$8+$10} END {print n+0}' <<<"$1"
}

# median/min/max of numbers given as arguments
stats3() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%s %s %s", a[int((NR+1)/2)], a[1], a[NR]}'; }

# bench_prepare [PACKAGE...]: the build and test dependencies, the named extra Debian packages
# (varnish, gnuplot-nox, ...), and a Release build of both programs. bench/run.sh sets
# BENCH_BUILT=1 after building once so the workloads it runs skip the (no-op) rebuild.
bench_prepare() {
  scripts/install-deps.sh
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's varnish package starts a system instance; benchmarks run their own.
  if systemctl is-active --quiet varnish 2>/dev/null; then systemctl stop varnish; fi
  if [ -z "${BENCH_BUILT:-}" ]; then
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
    cmake --build build-release -j"$(nproc)" --target profgate profgate-sim pgload >/dev/null
  fi
}

# report_file NAME: where a workload writes its table. Alone, bench/results/<date>-<host>-NAME.md;
# under bench/run.sh, a part of the combined report. Plots always go to bench/results/.
report_file() {
  if [ -n "${BENCH_PARTS:-}" ]; then echo "$BENCH_PARTS/$1.md"; else echo "$(result_base "$1").md"; fi
}
# Results are named <stamp>-<host>-<workload>; the stamp is the day (UTC) unless BENCH_STAMP
# says otherwise (a second report on the same day, say 2026-12-02b, keeps the first).
result_base() { echo "bench/results/${BENCH_STAMP:-$(date -u +%Y-%m-%d)}-$(hostname -s)-$1"; }

# target LINE: one line for the report's "targets" summary (under bench/run.sh; else printed).
target() {
  if [ -n "${BENCH_PARTS:-}" ]; then echo "- $1" >>"$BENCH_PARTS/targets"; else echo "target: $1"; fi
}

# The anchors, configured the same way in every workload. Both key the cache by URL and Accept,
# keep entries for a day, and collapse concurrent misses for one key (proxy_cache_lock; Varnish
# always does). Set PIN to a CPU list to pin the server (its children inherit the affinity).
# start_nginx_cache WORKDIR PORT UPSTREAM_PORT: one worker; WORKDIR must be 0755 (www-data reads it).
# NGX_COPY=1: cache hits are read into 8 buffers of 128 KiB and written (sendfile off) instead of
# sent with sendfile. Over loopback that is nginx's faster way to serve a large hit (measured
# 2026-12-03: 1.2-1.6x the req/s of sendfile on the hit path), as it is profgate's.
start_nginx_cache() {
  local w=$1 send="sendfile on; tcp_nopush on;"
  [ -z "${NGX_COPY:-}" ] || send="sendfile off; output_buffers 8 128k;"
  mkdir -p -m 777 "$w/nginx-cache"
  cat >"$w/nginx.conf" <<NGX
worker_processes 1;
pid $w/nginx.pid;
error_log $w/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  $send tcp_nodelay on;
  keepalive_requests 1000000;
  proxy_cache_path $w/nginx-cache levels=1:2 keys_zone=pg:16m max_size=4g inactive=1d use_temp_path=off;
  server {
    listen 127.0.0.1:$2;
    location / {
      proxy_pass http://127.0.0.1:$3;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache pg;
      proxy_cache_key "\$request_uri|\$http_accept";
      proxy_cache_lock on;
      proxy_cache_lock_timeout 60s;
      proxy_cache_valid 200 1d;
      proxy_read_timeout 60s;
      proxy_buffers 64 64k;
    }
  }
}
NGX
  ${PIN:+taskset -c $PIN} nginx -c "$w/nginx.conf"
}
# start_varnish WORKDIR PORT UPSTREAM_PORT: malloc storage, 1 d default TTL.
start_varnish() {
  local w=$1
  mkdir -p -m 777 "$w/varnish"
  cat >"$w/default.vcl" <<VCL
vcl 4.1;
backend sim { .host = "127.0.0.1"; .port = "$3"; .first_byte_timeout = 60s; .between_bytes_timeout = 60s; }
sub vcl_hash { hash_data(req.url); hash_data(req.http.Accept); return (lookup); }
VCL
  ${PIN:+taskset -c $PIN} varnishd -a "127.0.0.1:$2" -f "$w/default.vcl" -n "$w/varnish" -s malloc,4g -t 86400 >/dev/null
}
# stop_anchors WORKDIR: stops whichever of the two was started there.
stop_anchors() {
  [ -f "$1/nginx.pid" ] && kill "$(cat "$1/nginx.pid")" 2>/dev/null || true
  pkill -f "varnishd.*$1/varnish" 2>/dev/null || true
}

# wrk1 CONNS SECONDS URL [WRK ARGS...]: one wrk run (1 thread, on CPU ${WRK_CPU:-1}); prints
# "req/s p50 p99". Fails on any error response. For workloads that interleave their contenders.
wrk1() {
  local c=$1 s=$2 url=$3 o
  shift 3
  o=$(taskset -c "${WRK_CPU:-1}" wrk -t1 -c"$c" -d"$s"s --timeout 30s --latency "$@" "$url")
  [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from $url" >&2; echo "$o" >&2; return 1; }
  echo "$(wrk_rps "$o") $(wrk_lat "$o" 50) $(wrk_lat "$o" 99)"
}

# pgload1 CONNS SECONDS BODY_BYTES URL [-H 'Name: value']...: one run of bench/hitpath/pgload (on
# CPU ${WRK_CPU:-1}), the load generator that reads an answer in 1 MiB reads where wrk reads 8 KiB;
# prints "req/s p50 p99". Fails on any error: a status other than 200, a body of another size than
# BODY_BYTES, a closed connection.
pgload1() {
  local c=$1 s=$2 n=$3 url=$4 o
  shift 4
  o=$(taskset -c "${WRK_CPU:-1}" build-release/pgload -c "$c" -d "$s" -b "$n" "$@" "$url") ||
    { echo "bench: errors from $url (pgload)" >&2; echo "$o" >&2; return 1; }
  awk '$1 == "req/s" {r = $2} $1 == "p50_ms" {a = $2} $1 == "p99_ms" {b = $2} END {print r, a, b}' <<<"$o"
}

# wrk3 CONNS SECONDS URL [WRK ARGS...]: three wrk runs (1 thread, on CPU ${WRK_CPU:-1});
# prints "req/s-median min max p50-median p99-median". Fails on any error response.
wrk3() {
  local c=$1 s=$2 url=$3 o r=() p50=() p99=()
  shift 3
  for _ in 1 2 3; do
    o=$(taskset -c "${WRK_CPU:-1}" wrk -t1 -c"$c" -d"$s"s --timeout 30s --latency "$@" "$url")
    [ "$(wrk_errors "$o")" = 0 ] || { echo "bench: errors from $url" >&2; echo "$o" >&2; return 1; }
    r+=("$(wrk_rps "$o")"); p50+=("$(wrk_lat "$o" 50)"); p99+=("$(wrk_lat "$o" 99)")
  done
  local m mn mx a b
  read -r m mn mx <<<"$(stats3 "${r[@]}")"
  read -r a _ _ <<<"$(stats3 "${p50[@]}")"
  read -r b _ _ <<<"$(stats3 "${p99[@]}")"
  echo "$m $mn $mx $a $b"
}
# cpu_jiffies CPU: "busy total" jiffies of one CPU so far (/proc/stat; idle and iowait are not
# busy). Two readings around a run give how busy a core was, and with the requests made, what a
# request cost the server pinned to it: a measure that holds when the load generator, not the
# server, is what limits req/s.
cpu_jiffies() { awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
# peak_rss_mb PID
peak_rss_mb() { echo $(($(awk '/VmHWM/ {print $2}' "/proc/$1/status") / 1024)); }

# bench_start: a work directory in $work (0755: nginx workers run as www-data), the pids array a
# script appends the processes it starts to, and an exit trap that stops them and any anchor
# started in $work or a directory below it, then removes $work.
bench_start() {
  work=$(mktemp -d)
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  local d
  for d in "$work" "$work"/*/; do [ -d "$d" ] && stop_anchors "${d%/}"; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# bar_plot PNG TITLE YLABEL SETTINGS DATA SERIES...: a clustered bar chart, one cluster per line of
# DATA (its first column the label), one bar per further column, named by SERIES. SETTINGS is
# extra gnuplot lines (e.g. "set logscale y"), and the chart's link goes at the end of $out.
bar_plot() {
  local png=$1 title=$2 ylabel=$3 settings=$4 data=$5
  shift 5
  gnuplot <<GP
set terminal pngcairo size 900,420
set output "$png"
set title "$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "$ylabel"
set grid ytics
set key top left
$settings
plot for [i=2:$(($# + 1))] "$data" using i:xtic(1) title word("$*", i-1)
GP
  { echo; echo "![$title]($(basename "$png"))"; echo; } >>"$out"
}

# sim_calls PORT: "GETPROFILE_CALLS THROTTLED" so far, from the simulator's /_sim/stats.
sim_calls() {
  curl -s "http://127.0.0.1:$1/_sim/stats" | /usr/bin/python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["operations"]["GetProfile"], d["throttled"])'
}
