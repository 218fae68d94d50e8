#!/usr/bin/env bash
# Regenerates the page's pictures in docs/img/ (ui-profile.png, ui-diff.png, ui-speedscope.png):
# runs the page's browser test (tests/integration/test_ui.py) and keeps its screenshots. Needs a
# build in build/ (scripts/test.sh makes one) and scripts/install-deps.sh's chromium and npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PG_UI_SHOTS=$tmp ctest --test-dir build -R '^it_test_ui$' --output-on-failure
cp "$tmp/profile.png" docs/img/ui-profile.png
cp "$tmp/diff.png" docs/img/ui-diff.png
cp "$tmp/speedscope.png" docs/img/ui-speedscope.png
echo "ui-screenshots: docs/img/ui-profile.png docs/img/ui-diff.png docs/img/ui-speedscope.png"
