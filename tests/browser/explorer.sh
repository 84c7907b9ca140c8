#!/usr/bin/env bash
# Browser test of `lbq explore`: serve the Explorer for `livelock` on a free port of
# 127.0.0.1, follow the livelock lasso in headless Chromium, check the page shows the
# violated `assign_can_return` and HAProxy's step names (in the Path of Actions too),
# save a screenshot to target/browser/explorer-livelock.png; then, on the actor model's
# Explorer (`--model actor`, preset one-thread), check its Path of Actions says what each
# step did (target/browser/explorer-livelock-actor.png). Exits non-zero on any failure.
#
# Needs: Debian's chromium (/usr/bin/chromium), node, and playwright-core installed in
# tests/browser (`npm ci` there; it downloads no browser). Run from anywhere:
#   bash tests/browser/explorer.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s%N)
out=target/browser
mkdir -p "$out"

[ -x /usr/bin/chromium ] || { echo "explorer.sh: /usr/bin/chromium missing (apt-get install -y chromium)" >&2; exit 1; }
[ -d tests/browser/node_modules/playwright-core ] || {
    echo "explorer.sh: playwright-core missing (cd tests/browser && npm ci)" >&2
    exit 1
}

cargo build --release --locked -p lbq >&2
lbq=target/release/lbq

log=$(mktemp)
actor_log=$(mktemp)
pid=
actor_pid=
cleanup() {
    for p in "$pid" "$actor_pid"; do
        if [ -n "$p" ]; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    rm -f "$log" "$actor_log"
}
trap cleanup EXIT

# wait_for_explorer PID LOG: prints the Explorer's URL once lbq printed it and its port
# answers.
wait_for_explorer() {
    local p=$1 l=$2 url= port up=
    for _ in $(seq 600); do # 60 s at most
        url=$(sed -n 's|^Explorer: \(http://127\.0\.0\.1:[0-9]*/\).*|\1|p; s|^lbq explore: actor model, Explorer: \(http://127\.0\.0\.1:[0-9]*/\).*|\1|p' "$l")
        [ -n "$url" ] && break
        kill -0 "$p" 2>/dev/null || { cat "$l" >&2; echo "explorer.sh: lbq explore exited" >&2; return 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$l" >&2; echo "explorer.sh: no URL printed" >&2; return 1; }
    port=${url##*:}
    port=${port%/}
    for _ in $(seq 300); do # 30 s at most
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    [ -n "$up" ] || { cat "$l" >&2; echo "explorer.sh: port $port never answered" >&2; return 1; }
    echo "$url"
}

# --port 0: lbq picks a free port of 127.0.0.1 and prints it.
"$lbq" explore --variant livelock --port 0 >"$log" 2>&1 &
pid=$!
"$lbq" explore --model actor --scenario one-thread --variant livelock --port 0 >"$actor_log" 2>&1 &
actor_pid=$!

url=$(wait_for_explorer "$pid" "$log")
actor_url=$(wait_for_explorer "$actor_pid" "$actor_log")
cat "$log" "$actor_log"

# The stuck loop's lasso (assign_can_return), as `lbq explore` printed it.
line=$(grep -A1 '^  assign_can_return violated' "$log" | sed -n "s|.*lasso's last state: ${url}#/steps/||p")
turn=$(sed -n 's/^  assign_can_return violated:.*, \([0-9]*\) per turn$/\1/p' "$log")
[ -n "$line" ] && [ -n "$turn" ] || { echo "explorer.sh: no assign_can_return lasso printed" >&2; exit 1; }

timeout 180 node tests/browser/explorer.mjs --url "$url" --lasso "$line" --turn "$turn" \
    --screenshot "$out/explorer-livelock.png" --actor-url "$actor_url" --actor-steps 8

kill -0 "$pid" 2>/dev/null || { echo "explorer.sh: lbq explore died during the test" >&2; exit 1; }
kill -0 "$actor_pid" 2>/dev/null || { echo "explorer.sh: lbq explore --model actor died during the test" >&2; exit 1; }
ms=$((($(date +%s%N) - started) / 1000000))
printf 'explorer.sh: passed in %d.%03d s (build included)\n' $((ms / 1000)) $((ms % 1000))
