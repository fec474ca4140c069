#!/usr/bin/env bash
# WebSocket fan-out (issue 4): one room of 10, 100 and 1,000 members, offered message rates rising
# until delivery p99 passes 1 s, against mextd, a Node `ws` broadcast server and a socket.io
# server (bench/node/), plain and over TLS, with the same load generator (ws_fanout_load) in one
# run. Then the server memory per connected idle client (1,000 of them, RSS before and after).
#
#   bench/ws_fanout.sh BUILD_DIR [STEP_S]      (STEP_S: seconds per rate step, default 5)
#
# Servers are pinned to core MEXT_BENCH_SERVER_CPU (0), the load generator to
# MEXT_BENCH_CLIENT_CPU (1). mextd runs with --log-level warn, --rate-limit-rps 0 and a send rate
# per connection high enough for one sender to drive the room; everything else is default,
# including the bounded send queue per connection (a member that falls behind is closed, and the
# step is then reported with its failed clients). Output: one JSON line per step and per memory
# sample; each step names the cores the server and the load generator used (server_cores,
# client_cores: 1.0 is the one core each is pinned to, busy for the whole step).
# Environment: MEXT_BENCH_SIZES (default "10 100 1000"), MEXT_BENCH_SERVERS (default
# "mextd ws socketio"), MEXT_BENCH_MEXTD_FLAGS (more mextd flags, e.g. "--scheduler stealing"),
# MEXT_BENCH_MEXTD (the mextd binary, default BUILD_DIR/mextd: another build, side by side),
# MEXT_BENCH_TRANSPORTS (default "plain tls"), MEXT_BENCH_PARTS (default "fanout memory").
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [STEP_S]" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
STEP=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD=$BUILD_DIR/bench/ws_fanout_load
MEXTD=${MEXT_BENCH_MEXTD:-$BUILD_DIR/mextd}
SERVER_CPU=${MEXT_BENCH_SERVER_CPU:-0}
CLIENT_CPU=${MEXT_BENCH_CLIENT_CPU:-1}
SIZES=${MEXT_BENCH_SIZES:-"10 100 1000"}
SERVERS=${MEXT_BENCH_SERVERS:-"mextd ws socketio"}
TRANSPORTS=${MEXT_BENCH_TRANSPORTS:-"plain tls"}
PARTS=${MEXT_BENCH_PARTS:-"fanout memory"}
[ -x "$LOAD" ] || { echo "missing $LOAD: build first (./dev.sh build)" >&2; exit 1; }
command -v node >/dev/null || { echo "node is missing: ./dev.sh deps installs it" >&2; exit 1; }
npm ci --prefix "$ROOT/bench/node" --no-audit --no-fund --loglevel=error >/dev/null
ulimit -n 20000

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mext-ws-bench.XXXXXX")
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

rates_for() {  # offered messages/s per room size
  case $1 in
    10) echo "1000,2000,5000,10000,20000,40000,80000" ;;
    100) echo "200,500,1000,2000,5000,10000,20000" ;;
    *) echo "20,50,100,200,500,1000,2000,5000" ;;
  esac
}

# shellcheck source=bench/ws_servers.sh
. "$ROOT/bench/ws_servers.sh"

protocol_of() {
  case $1 in mextd) echo mext ;; ws) echo broadcast ;; *) echo socketio ;; esac
}

load_args() {  # load_args SERVER TRANSPORT
  local a=(--port "$PORT" --protocol "$(protocol_of "$1")")
  [ "$2" = tls ] && a+=(--tls)
  [ "$1" = mextd ] && a+=(--token "$TOKEN" --room "$ROOM")
  echo "${a[@]}"
}

echo "# ws fan-out, $(date -u), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# mextd $MEXTD, repository at $(git -C "$ROOT" describe --always --dirty 2>/dev/null), node $(node --version), step ${STEP}s"
for transport in $TRANSPORTS; do
  [[ " $PARTS " == *" fanout "* ]] || break
  for server in $SERVERS; do
    for size in $SIZES; do
      start "$server" "$transport"
      # shellcheck disable=SC2046
      taskset -c "$CLIENT_CPU" "$LOAD" $(load_args "$server" "$transport") --members "$size" \
        --rates "$(rates_for "$size")" --step-s "$STEP" --server-pid "$PID" | sed "s/^{/{\"server\":\"$server\",/" ||
        echo "{\"server\":\"$server\",\"transport\":\"$transport\",\"members\":$size,\"error\":\"load generator failed\"}"
      stop
    done
  done
done

[[ " $PARTS " == *" memory "* ]] || exit 0
echo "# memory per idle connected client (1,000 clients; RSS after - before, / 1,000)"
for transport in $TRANSPORTS; do
  for server in $SERVERS; do
    start "$server" "$transport"
    sleep 1
    before=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    fifo=$TMP/idle.out
    # shellcheck disable=SC2046
    taskset -c "$CLIENT_CPU" "$LOAD" $(load_args "$server" "$transport") --members 1000 \
      --idle-s 8 >"$fifo" &
    lpid=$!
    for _ in $(seq 1 600); do grep -q "^idle" "$fifo" 2>/dev/null && break; sleep 0.1; done
    sleep 3
    after=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    wait "$lpid" || true
    echo "{\"server\":\"$server\",\"transport\":\"$transport\",\"idle_clients\":1000,\"rss_before_kib\":$before,\"rss_after_kib\":$after,\"kib_per_client\":$(awk "BEGIN {printf \"%.2f\", ($after - $before) / 1000}")}"
    stop
  done
done
