#!/usr/bin/env bash
# The main job: builds profgate and runs it in the foreground on 127.0.0.1:${PG_PORT:-8080},
# printing sample requests you can copy. Ctrl-C stops it (a graceful shutdown).
#
# Until the upstream client lands (issue #4) GetProfile validates and plans but answers 501;
# the plan route shows what it would fetch. The simulator and Redis join this script with
# their issues (#3, #5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
port=${PG_PORT:-8080}
cat <<MSG

profgate on http://127.0.0.1:$port  (Ctrl-C to stop)

Try, from another shell:
  curl -s 'http://127.0.0.1:$port/_profgate/plan?period=PT6H' | python3 -m json.tool | head -40
  curl -si 'http://127.0.0.1:$port/profilingGroups/my-group/profile?period=P1Y'
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws codeguruprofiler get-profile \\
      --profiling-group-name my-group --period P8D out.bin \\
      --endpoint-url http://127.0.0.1:$port --region us-east-1

MSG
exec build-release/profgate -c conf/profgate.conf --listen "127.0.0.1:$port"
