#!/usr/bin/env bash
# The main job: builds profgate and profgate-sim, starts the simulator (the CodeGuru stand-in) on
# 127.0.0.1:${PG_SIM_PORT:-9000} and the gateway on 127.0.0.1:${PG_PORT:-8080} in the foreground,
# and prints sample requests to copy. Ctrl-C stops both (graceful shutdown).
#
# Until the upstream client lands (#4) the gateway validates and plans GetProfile and answers 501;
# the simulator already answers GetProfile and ListProfileTimes like the real service. Redis joins
# with the cache (#5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
port=${PG_PORT:-8080}
sim_port=${PG_SIM_PORT:-9000}
build-release/profgate-sim --listen "127.0.0.1:$sim_port" --rate 10 --burst 20 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null' EXIT
cat <<MSG

profgate      http://127.0.0.1:$port   (Ctrl-C stops both)
profgate-sim  http://127.0.0.1:$sim_port   (throttled like AWS: 10 req/s, bursts of 20)

Try, from another shell:
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1
  aws codeguruprofiler get-profile --profiling-group-name my-group --period PT1H \\
      --accept application/json profile.json --endpoint-url http://127.0.0.1:$sim_port
  aws codeguruprofiler list-profile-times --profiling-group-name my-group --period PT1H \\
      --start-time \$(date -u -d '-6 hours' +%FT%TZ) --end-time \$(date -u +%FT%TZ) \\
      --endpoint-url http://127.0.0.1:$sim_port
  curl -s 'http://127.0.0.1:$port/_profgate/plan?period=PT6H' | python3 -m json.tool | head -40
  aws codeguruprofiler get-profile --profiling-group-name my-group --period P8D out.bin \\
      --endpoint-url http://127.0.0.1:$port      # ValidationException: longer than 7 days
  curl -s http://127.0.0.1:$sim_port/_sim/stats

MSG
build-release/profgate -c conf/profgate.conf --listen "127.0.0.1:$port"
