#!/usr/bin/env bash
# Gate strength: cargo-mutants over crates/lbqueue. Each mutant is one small change to
# the queue code; the judge is lbqueue's own tests (fast: section unit tests, sections
# tests) or, with --full, the whole workspace suite (the verdict tables, conformance,
# random histories, engines agree: about a minute per mutant on 2 cores). Not run by
# .ci/run: even the fast judge takes ~25 s a mutant here (a release-profile rebuild).
#
#   bash scripts/mutants.sh --file crates/lbqueue/src/queue.rs     # one file, fast judge
#   bash scripts/mutants.sh --full                                 # everything, full judge
#
# Results land in target/mutants/mutants.out (caught.txt, missed.txt, …).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
judge=(--test-package lbqueue)
if [[ "${1:-}" == "--full" ]]; then
  judge=(--test-workspace true)
  shift
fi
exec cargo mutants -p lbqueue "${judge[@]}" --timeout 300 -o target/mutants "$@"
