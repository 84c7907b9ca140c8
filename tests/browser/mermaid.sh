#!/usr/bin/env bash
# Renders `lbq check --format mermaid` for the buggy variants with Mermaid itself in
# headless Chromium; fails if any diagram does not render. Screenshots go to
# target/browser/. Needs `npm ci` in tests/browser (see .ci/run) and /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p lbq
mkdir -p target/browser
for variant in livelock purge toctou; do
  out=target/browser/$variant.mmd
  # exit 1 = a property is violated, which is what these variants must show
  status=0
  target/release/lbq check --variant "$variant" --format mermaid > "$out" || status=$?
  [ "$status" -eq 1 ] || { echo "lbq check --variant $variant exited $status, expected 1"; exit 1; }
  node tests/browser/mermaid.mjs "$out" "target/browser/$variant-mermaid.png"
done
echo "mermaid.sh: passed"
