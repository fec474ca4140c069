# Sourced by the WebSocket benchmarks (ws_fanout.sh, ws_cpu_split.sh): starting and stopping the
# servers they compare. Expects ROOT, TMP, MEXTD and SERVER_CPU set; start sets PID and PORT, and
# TOKEN and ROOM (the administrator's bearer token, a demo booth's room) for mextd.

# start SERVER TRANSPORT: starts it pinned, sets PID and PORT (and TOKEN, ROOM for mextd).
start() {
  local server=$1 transport=$2 log=$TMP/$1-$2.log
  rm -rf "$TMP/data"
  mkdir -p "$TMP/data"
  case $server in
    mextd)
      local flags=(--data-dir "$TMP/data" --listen 127.0.0.1:0 --demo --log-level warn
        --rate-limit-rps 0 --ws-send-rate 1000000 --ws-send-burst 1000000)
      # shellcheck disable=SC2206
      flags+=(${MEXT_BENCH_MEXTD_FLAGS:-})
      [ "$transport" = plain ] && flags+=(--plain-http)
      MEXT_ADMIN_EMAIL=admin@bench.invalid MEXT_ADMIN_PASSWORD=bench-admin-password-1234 \
        taskset -c "$SERVER_CPU" "$MEXTD" "${flags[@]}" >"$log" 2>&1 &
      ;;
    ws | socketio)
      # The Node servers use a pair made by openssl for TLS.
      if [ "$transport" = tls ] && [ ! -f "$TMP/tls/cert.pem" ]; then
        mkdir -p "$TMP/tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
          -subj /CN=127.0.0.1 -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" 2>/dev/null
      fi
      local tls_arg=()
      [ "$transport" = tls ] && tls_arg=("$TMP/tls")
      taskset -c "$SERVER_CPU" node "$ROOT/bench/node/${server}_server.js" 0 "${tls_arg[@]}" \
        >"$log" 2>&1 &
      ;;
  esac
  PID=$!
  for _ in $(seq 1 600); do
    grep -q "^listening on" "$log" 2>/dev/null && break
    sleep 0.1
  done
  PORT=$(grep -m1 "^listening on" "$log" | sed 's/.*://')
  [ -n "$PORT" ] || { echo "$server did not start:"; cat "$log"; exit 1; }
  if [ "$server" = mextd ]; then
    local scheme=https
    [ "$transport" = plain ] && scheme=http
    TOKEN=$(curl -sk -X POST "$scheme://127.0.0.1:$PORT/api/v1/auth/login" \
      -H 'Content-Type: application/json' \
      -d '{"email":"admin@bench.invalid","password":"bench-admin-password-1234"}' |
      sed 's/.*"token":"\([^"]*\)".*/\1/')
    local exh
    exh=$(curl -sk "$scheme://127.0.0.1:$PORT/api/v1/exhibitions" | sed 's/.*"exhibition_id":"\([^"]*\)".*/\1/')
    ROOM=$(curl -sk "$scheme://127.0.0.1:$PORT/api/v1/exhibitions/$exh/booths" |
      sed 's/.*"chat_room_id":"\([^"]*\)".*/\1/')
  fi
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
