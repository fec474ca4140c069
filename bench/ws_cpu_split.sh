#!/usr/bin/env bash
# Where mextd's core goes during a fan-out step: mextd pinned to core 0 with the demo exhibition,
# ws_fanout_load pinned to core 1 with MEMBERS (default 1,000) in one room, a warm-up step at
# 20 msg/s, then RATE msg/s for 8 s; 2 s into that step, the user and system CPU of every mextd
# thread over 5 s (from /proc/PID/task/*/stat), grouped by thread name, in % of one core.
#
#   bench/ws_cpu_split.sh BUILD_DIR plain|tls RATE [MEMBERS]
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR plain|tls RATE [MEMBERS]" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
TRANSPORT=$2
RATE=$3
MEMBERS=${4:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MEXTD=$BUILD_DIR/mextd
SERVER_CPU=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mext-cpu-split.XXXXXX")
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ulimit -n 20000
# shellcheck source=bench/ws_servers.sh
. "$ROOT/bench/ws_servers.sh"

start mextd "$TRANSPORT"
load_tls=(--tls)
[ "$TRANSPORT" = plain ] && load_tls=()
taskset -c 1 "$BUILD_DIR/bench/ws_fanout_load" --port "$PORT" --protocol mext "${load_tls[@]}" \
  --members "$MEMBERS" --token "$TOKEN" --room "$ROOM" --rates "20,$RATE" --step-s 8 \
  --server-pid "$PID" >"$TMP/load.out" &
LPID=$!

# thread name, utime, stime (clock ticks) of every thread, summed by name
sample() {
  for t in /proc/"$PID"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12, $13}')"
  done | awk '{u[$1] += $2; s[$1] += $3} END {for (k in u) print k, u[k], s[k]}' | sort
}
# The first line of output ends the warm-up step; the measured step starts a second later.
for _ in $(seq 1 1200); do grep -q offered "$TMP/load.out" && break; sleep 0.1; done
sleep 2
sample >"$TMP/before"
sleep 5
sample >"$TMP/after"
wait "$LPID" || true
ticks=$(getconf CLK_TCK)
echo "# mextd per-thread CPU, $TRANSPORT, $MEMBERS members, $RATE msg/s, $(date -u), $(nproc) cores"
tail -1 "$TMP/load.out"
join "$TMP/before" "$TMP/after" | awk -v hz="$ticks" '
  { u = ($4 - $2) * 100 / hz / 5; s = ($5 - $3) * 100 / hz / 5; tu += u; ts += s
    if (u + s > 0) printf "%-18s user %3.0f%%  system %3.0f%%\n", $1, u, s }
  END { printf "%-18s user %3.0f%%  system %3.0f%%  (%% of one core; %d ticks/s)\n", "all", tu, ts, hz }'
