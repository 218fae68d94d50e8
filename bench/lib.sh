# Shared helpers for bench scripts: free ports, readiness, wrk parsing, medians. Sourced, not run.

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
