#!/usr/bin/env bash
# Installs everything profgate needs to build, test and demo on Debian 12 (run as root).
# Idempotent: when every package is already there it does nothing.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config            # toolchain
  libuv1-dev libcurl4-openssl-dev libssl-dev  # event loop, upstream client, SigV4
  libhiredis-dev node-llhttp                  # Redis client, HTTP parser sources
  zlib1g-dev libzstd-dev libinih-dev          # gzip, cache compression, config
  libyajl-dev                                 # streaming JSON parser for upstream profiles
  libprotobuf-c-dev protobuf-c-compiler       # pprof output: protobuf-c and its code generator
  golang-github-google-pprof-dev              # pprof's profile.proto (the schema, compiled at build)
  golang-go                                   # tests read pprof output with `go tool pprof`
  libcmocka-dev clang libclang-rt-14-dev      # unit tests, fuzzing (libFuzzer)
  redis-server python3 python3-boto3 awscli   # integration tests and the demo
  python3-yaml binutils                       # deploy/ manifest tests (YAML, objdump)
  curl                                        # the demo's sample request
  wrk nginx openssl                           # benchmarks (the anchor); TLS upstream tests
  chromium                                    # the page's browser test (headless)
)
missing=()
for p in "${pkgs[@]}"; do
  [[ $p == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx package starts a system instance; benchmarks run their own.
if systemctl is-active --quiet nginx 2>/dev/null; then systemctl stop nginx; systemctl disable --quiet nginx; fi
# Node.js runs ion-js, the independent Ion decoder the tests compare against (pinned by
# tests/ion/package-lock.json). The machine image ships Node 20; Debian's nodejs is the fallback.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
root=$(cd "$(dirname "$0")/.." && pwd)
# npm ci: exactly the versions in each package-lock.json. ui/ is profgate's page with the libraries
# it serves (d3, d3-flame-graph, speedscope); tests/browser drives chromium for its test.
for dir in tests/ion:ion-js ui:d3-flame-graph tests/browser:playwright-core; do
  if [ ! -d "$root/${dir%%:*}/node_modules/${dir#*:}" ]; then
    (cd "$root/${dir%%:*}" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
