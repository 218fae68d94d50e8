#!/usr/bin/env bash
# Regenerates the pictures in docs/img/ (needs graphviz: apt-get install graphviz):
#   layers.png       the libraries and programs with their link edges, from CMake's --graphviz
#   getprofile.png   a GetProfile's steps (src/gateway/gp.h), from docs/img/getprofile.dot
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S . -B "$tmp/build" -DPG_TESTS=OFF --graphviz="$tmp/layers.dot" >/dev/null
# Lay the layers out bottom-up (a lower layer below the ones that link it), without CMake's legend.
sed -e 's/^digraph "\(.*\)" {/digraph "\1" {\n    rankdir = "BT";\n    node [fontname = "Helvetica"];/' \
    -e '/^subgraph clusterLegend {/,/^}/d' "$tmp/layers.dot" > docs/img/layers.dot
dot -Tpng -Gdpi=110 docs/img/layers.dot -o docs/img/layers.png
dot -Tpng -Gdpi=110 docs/img/getprofile.dot -o docs/img/getprofile.png
echo "diagrams: docs/img/layers.png docs/img/getprofile.png"
