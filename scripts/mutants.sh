#!/usr/bin/env bash
# Gate strength: cargo-mutants over crates/lbqueue, with the test suite as the judge.
# Each mutant is one small change to the queue code. Two tiers, one result:
#   1. every mutant against lbqueue's own tests (section tests, unit tests: seconds);
#   2. `--iterate`: only the mutants that survived tier 1, against the whole workspace
#      suite (the verdict tables, conformance, random histories, engines agree, CLI),
#      run by cargo-nextest (both cores, stop at the first failure).
# A mutant caught in tier 1 is caught by the whole suite too (it contains lbqueue's
# tests), so tier 2's caught.txt/missed.txt are the whole-suite verdicts.
# Not run by .ci/run: tier 1 takes hours here, tier 2 about five minutes a survivor.
#
#   bash scripts/mutants.sh                                  # both tiers, every file
#   bash scripts/mutants.sh --file crates/lbqueue/src/queue.rs   # both tiers, one file
#   bash scripts/mutants.sh --tier 1 [cargo-mutants args]    # tier 1 only
#   bash scripts/mutants.sh --tier 2 [cargo-mutants args]    # tier 2 over tier 1's output
#
# Results land in target/mutants/mutants.out (caught.txt, missed.txt, unviable.txt, …).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
tiers=(1 2)
if [[ "${1:-}" == "--tier" ]]; then
  tiers=("$2")
  shift 2
fi
common=(-p lbqueue --profile mutants -o target/mutants)
for tier in "${tiers[@]}"; do
  case "$tier" in
    1) cargo mutants "${common[@]}" --test-package lbqueue --timeout 60 "$@" || true ;;
    2) cargo mutants "${common[@]}" --test-workspace true --test-tool nextest --timeout 900 --iterate "$@" || true ;;
    *) echo "--tier: expected 1 or 2, found $tier" >&2; exit 2 ;;
  esac
done
