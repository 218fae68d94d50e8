#!/usr/bin/env bash
# The main job: builds profgate and profgate-sim, starts the simulator (the CodeGuru stand-in,
# throttled and checking SigV4 like AWS) on 127.0.0.1:${PG_SIM_PORT:-9000} and the gateway in front
# of it on 127.0.0.1:${PG_PORT:-8080} in the foreground, and prints sample requests to copy.
# A redis-server on 127.0.0.1:${PG_REDIS_PORT:-6390} is the shared cache. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
port=${PG_PORT:-8080}
sim_port=${PG_SIM_PORT:-9000}
redis_port=${PG_REDIS_PORT:-6390}
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "/tmp/profgate-demo-redis.pid" --logfile /tmp/profgate-demo-redis.log
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo-secret AWS_REGION=us-east-1
build-release/profgate-sim --listen "127.0.0.1:$sim_port" --rate 10 --burst 20 \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null; redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1' EXIT
cat <<MSG

profgate      http://127.0.0.1:$port   (Ctrl-C stops both)
the page      http://127.0.0.1:$port/ui/#group=my-group&period=PT24H   (flame graph, top functions, compare)
profgate-sim  http://127.0.0.1:$sim_port   (the upstream: 10 req/s, bursts of 20, SigV4 required)
redis         127.0.0.1:$redis_port          (the shared cache; try: redis-cli -p $redis_port keys 'pg:v1:*')

Try, from another shell (the gateway signs its own upstream calls; any client keys work):
  export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
  aws codeguruprofiler get-profile --profiling-group-name my-group --period PT6H \\
      --accept application/json profile.json --endpoint-url http://127.0.0.1:$port
  curl -s -D - -o /dev/null -H 'Accept: application/json' \\
      "http://127.0.0.1:$port/profilingGroups/my-group/profile?period=PT6H"   # again: X-Profgate-Cache
  curl -s 'http://127.0.0.1:$port/_profgate/plan?period=PT6H' | python3 -m json.tool | head -30
  curl -s "http://127.0.0.1:$port/_profgate/profile/my-group?period=PT6H&format=collapsed" | head -3
  go tool pprof -top "http://127.0.0.1:$port/_profgate/profile/my-group?period=PT6H&format=pprof" | head -12
  curl -s http://127.0.0.1:$port/healthz
  curl -s http://127.0.0.1:$sim_port/_sim/stats | head -c 400    # what the upstream saw
  aws codeguruprofiler get-profile --profiling-group-name my-group --period P8D out.bin \\
      --endpoint-url http://127.0.0.1:$port      # ValidationException: longer than 7 days

MSG
cat >/tmp/profgate-demo.conf <<CONF
[redis]
url = redis://127.0.0.1:$redis_port
[ui]
root = $PWD/ui
CONF
build-release/profgate -c /tmp/profgate-demo.conf --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$sim_port"
