#!/usr/bin/env bash
# Installs everything profgate needs to build, test and demo on Debian 12 (run as root).
# Idempotent: when every package is already there it does nothing.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config            # toolchain
  libuv1-dev libcurl4-openssl-dev libssl-dev  # event loop, upstream client, SigV4
  libhiredis-dev node-llhttp                  # Redis client, HTTP parser sources
  zlib1g-dev libzstd-dev libinih-dev          # gzip, cache compression, config
  libcmocka-dev clang libclang-rt-14-dev      # unit tests, fuzzing (libFuzzer)
  redis-server python3 python3-boto3 awscli   # integration tests and the demo
  curl                                        # the demo's sample request
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
