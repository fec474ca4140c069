#!/usr/bin/env bash
# Where the heap of idle WebSocket connections goes (issue 4): mextd (demo) under heaptrack,
# 1,000 idle members signed in and in one room, then kill -9 while they are connected, so that
# what heaptrack lists as leaked is what was live at that moment. Prints the largest allocation
# sites, their bytes per connection and the first frames of our own code in their stacks (line
# numbers of inlined frames can be off: the whole trace is kept in var/ws_idle_heap.zst for
# `heaptrack_print -f var/ws_idle_heap.zst --print-leaks 1`).
#
#   bench/ws_idle_heap.sh BUILD_DIR [MEMBERS] [TRANSPORT]   (default 1000, plain; or tls)
#
# Needs heaptrack (Debian package `heaptrack`; installed here when missing).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [MEMBERS]" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
MEMBERS=${2:-1000}
TRANSPORT=${3:-plain}
case $TRANSPORT in
  plain) server_flags=(--plain-http) scheme=http load_flags=() ;;
  tls) server_flags=() scheme=https load_flags=(--tls) ;;
  *) echo "TRANSPORT is plain or tls" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD=$BUILD_DIR/bench/ws_fanout_load
MEXTD=$BUILD_DIR/mextd
[ -x "$LOAD" ] && [ -x "$MEXTD" ] || { echo "build first (./dev.sh build)" >&2; exit 1; }
if ! command -v heaptrack >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends heaptrack
fi
ulimit -n 20000

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mext-heap.XXXXXX")
trap 'pkill -KILL -f "$TMP/data" 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$TMP/data"
MEXT_ADMIN_EMAIL=admin@bench.invalid MEXT_ADMIN_PASSWORD=bench-admin-password-1234 \
  heaptrack -o "$TMP/mextd" "$MEXTD" --data-dir "$TMP/data" --listen 127.0.0.1:0 --demo \
  --log-level warn --rate-limit-rps 0 "${server_flags[@]}" >"$TMP/log" 2>&1 &
for _ in $(seq 1 600); do grep -q "^listening on" "$TMP/log" 2>/dev/null && break; sleep 0.1; done
PORT=$(grep -m1 "^listening on" "$TMP/log" | sed 's/.*://')
[ -n "$PORT" ] || { echo "mextd did not start:"; cat "$TMP/log"; exit 1; }
base=$scheme://127.0.0.1:$PORT/api/v1
# The self-signed certificate mextd made in the data directory: -k, on loopback only.
TOKEN=$(curl -sk -X POST "$base/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"admin@bench.invalid","password":"bench-admin-password-1234"}' |
  sed 's/.*"token":"\([^"]*\)".*/\1/')
exh=$(curl -sk "$base/exhibitions" | sed 's/.*"exhibition_id":"\([^"]*\)".*/\1/')
ROOM=$(curl -sk "$base/exhibitions/$exh/booths" | sed 's/.*"chat_room_id":"\([^"]*\)".*/\1/')

"$LOAD" --port "$PORT" --protocol mext --token "$TOKEN" --room "$ROOM" --members "$MEMBERS" \
  "${load_flags[@]}" --idle-s 30 >"$TMP/load.out" 2>&1 &
for _ in $(seq 1 600); do grep -q "^idle" "$TMP/load.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^idle" "$TMP/load.out" || { echo "the members did not connect:"; cat "$TMP/load.out"; exit 1; }
sleep 4
pkill -KILL -f "$MEXTD --data-dir $TMP/data"
sleep 2
mkdir -p "$ROOT/var"
cp "$TMP/mextd.zst" "$ROOT/var/ws_idle_heap.zst"

echo "# idle WebSocket heap, $(date -u), $MEMBERS $TRANSPORT members, mextd $MEXTD"
echo "# live bytes, allocations, per connection, first frames of the engine in the stack"
heaptrack_print -f "$TMP/mextd.zst" --print-peaks 0 --print-allocators 0 --print-temporary 0 \
  --print-leaks 1 --peak-limit 25 --sub-peak-limit 1 2>/dev/null |
  awk -v members="$MEMBERS" '
    function bytes(s,   n, u) {
      n = s + 0; u = substr(s, length(s), 1)
      if (u == "K") n *= 1024; else if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824
      return n
    }
    function report() {
      if (size != "") printf "%10s %8d %8.2f KiB  %s\n", size, calls, bytes(size) / members / 1024, frames
    }
    /^[0-9.]+[BKMG]? leaked over [0-9]+ calls from$/ { report(); size = $1; calls = $4; frames = ""; n = 0; next }
    /^total memory leaked/ { report(); size = ""; print "# " $0; next }
    n < 2 && /at \.\.\/(http|actors|persistence)\// {
      if (index(frames, $2) == 0) { frames = frames (n ? " < " : "") $2; n++ }
    }
    END { report() }'
