#!/usr/bin/env bash
# How the cost of an exhaustive check grows: streams, threads, servers, CLI cycles.
# Usage: scripts/scale.sh [TIMEOUT_SECS] [VARIANT] [REDUCTION] [ATOMICS]  — prints one
# markdown row per configuration (stored states, seconds, peak memory, complete or not).
# Uses the release binary; REDUCTION is `lbq check --reduction` (default: streams, lbq's
# default), ATOMICS `lbq check --atomics` (in-section, the default, or split).
# SCALE_CONFIGS="name:streams:threads:servers:cycles …" replaces the default sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout_s=${1:-60}
variant=${2:-fixed}
reduction=${3:-streams}
atomics=${4:-in-section}
case "$atomics" in
  in-section | split) ;;
  *) echo "scale.sh: ATOMICS: expected in-section or split, found '$atomics'" >&2; exit 2 ;;
esac
cargo build --release -q -p lbq
lbq=target/release/lbq
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# scenario NAME STREAMS THREADS SERVERS CYCLES
scenario() {
  local name=$1 streams=$2 threads=$3 servers=$4 cycles=$5 f="$dir/$1.toml"
  local list="" cli=""
  for ((i = 0; i < streams; i++)); do list+="${list:+, }$(( (i + 1) % threads + 1 ))"; done
  for ((c = 0; c < cycles; c++)); do
    cli+="${cli:+, }\"disable server px/s1\", \"shutdown sessions server px/s1\", \"enable server px/s1\""
  done
  {
    echo "name = \"$name\""
    echo "algo = \"roundrobin\""
    echo "threads = $threads"
    echo "streams = [$list]"
    echo "cli = [$cli]"
    for ((v = 1; v <= servers; v++)); do printf '\n[[servers]]\nname = "s%d"\nmaxconn = 1\n' "$v"; done
  } > "$f"
  echo "$f"
}

row() {
  local f
  f=$(scenario "$@")
  # The checker runs as a child of python, which reads its peak RSS once it has exited.
  python3 - "$lbq" "$f" "$variant" "$timeout_s" "$reduction" "$atomics" "$@" <<'PY' || true
import json, resource, subprocess, sys
lbq, f, variant, timeout_s, reduction, atomics, name, streams, threads, servers, cycles = sys.argv[1:]
out = subprocess.run([lbq, "check", "--scenario", f, "--variant", variant, "--timeout", timeout_s,
                      "--reduction", reduction, "--atomics", atomics, "--json"],
                     capture_output=True, text=True).stdout
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
r = json.loads(out)
bad = [p["name"] for p in r["properties"] if p["status"] in ("violated", "unreached")]
verdict = "all hold" if r["complete"] and not bad else ("violated: " + ", ".join(bad) if bad else "incomplete (" + str(r.get("stopped_by")) + ")")
print("| %s | %s | %s | %s | %s | %s | %s | %.1f | %s | %s |" % (name, streams, threads, servers, cycles,
      format(r["unique_states"], ","), "yes" if r["complete"] else "no", r["seconds"],
      "%.0f MiB" % peak if peak < 10240 else "%.1f GiB" % (peak / 1024), verdict))
PY
}

echo "| scenario | streams | threads | servers | CLI cycles | stored states ($reduction, atomics $atomics) | complete | s | peak | $variant |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---|"
if [ -n "${SCALE_CONFIGS:-}" ]; then
  for c in $SCALE_CONFIGS; do
    IFS=: read -r name streams threads servers cycles <<< "$c"
    row "$name" "$streams" "$threads" "$servers" "$cycles"
  done
  exit 0
fi
for s in 2 3 4 5 6 7; do row "streams-$s" "$s" 2 1 1; done
for t in 1 2 3 4; do row "threads-$t" 4 "$t" 1 1; done
for v in 1 2 3; do row "servers-$v" 4 2 "$v" 1; done
for c in 1 2 3; do row "cycles-$c" 4 2 1 "$c"; done
