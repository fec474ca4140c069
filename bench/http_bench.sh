#!/usr/bin/env bash
# The HTTP bridge against nginx (issue 3): `wrk -t2 -c64 --latency`, keep-alive, over loopback
# TLS, on GET /api/v1/exhibitions/{id}/booths from mextd and on the very same bytes served by
# nginx as a static file with the same certificate, key and TLS policy, in one run.
#
#   bench/http_bench.sh BUILD_DIR [DURATION_S]     (DURATION_S: seconds per wrk run, default 15)
#
# What it does:
#   1. installs wrk and nginx with apt-get when missing (nothing is installed twice);
#   2. starts BUILD_DIR/mextd on a fresh temp data dir with --demo, --rate-limit-rps 0 (else the
#      per-address limit answers 429 beyond 50 req/s) and --log-level warn, waits for
#      "listening on", finds the demo exhibition with GET /api/v1/exhibitions and fetches its
#      booths once with curl;
#   3. writes those exact bytes to a file and starts nginx (bench/nginx.conf.in: 1 worker,
#      access_log off, mextd's own cert.pem/key.pem, TLS 1.2/1.3 with ECDHE+AEAD ciphers, no cap
#      on keep-alive requests) serving it at the same path as application/json, and checks that
#      both servers answer 200 with identical bodies;
#   4. runs a short warm-up against each, then wrk against mextd, nginx, mextd, nginx (rounds
#      alternate), every server pinned to core MEXT_BENCH_SERVER_CPU (0) and wrk to
#      MEXT_BENCH_CLIENT_CPU (1), and prints req/s, p50/p99 latency, the server's and wrk's CPU
#      time, how busy each core was, and the ratio mextd/nginx;
#   5. stops both servers and removes the temp dir on exit, also on failure or Ctrl-C.
# It exits 1 when a run saw a non-2xx/3xx answer or a socket error (wrk reports both), or when
# the bodies differ. Only 127.0.0.1 is contacted.
#
# Environment (all optional):
#   MEXT_BENCH_LOG_LEVEL   mextd --log-level (default warn; info writes one JSON line a request)
#   MEXT_BENCH_MEXTD_FLAGS extra mextd flags, split on spaces (e.g. "--io-threads 1")
#   MEXT_BENCH_ROUNDS      rounds of (mextd, nginx) (default 2, at most 10)
#   MEXT_BENCH_WARMUP_S    warm-up seconds per server, not reported (default 3; 0 skips it)
#   MEXT_BENCH_SERVER_CPU / MEXT_BENCH_CLIENT_CPU   cores for the servers / for wrk (0 / 1)
#   MEXT_BENCH_THREADS / MEXT_BENCH_CONNECTIONS     wrk -t / -c (2 / 64)
#   MEXT_BENCH_TMP         where the temp dir goes (default $TMPDIR or /tmp)
#   MEXT_BENCH_KEEP=1      keep the temp dir (logs, wrk outputs, nginx.conf) and print its path
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR [DURATION_S]   (DURATION_S: 1..3600, default 15)" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
[ -d "$1" ] || { echo "no such build dir: $1" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
DURATION=${2:-15}
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
TEMPLATE=$SCRIPT_DIR/nginx.conf.in

int_in() {  # int_in NAME VALUE MIN MAX
  if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    echo "$1 must be an integer in $3..$4, not '$2'" >&2
    exit 2
  fi
}
LOG_LEVEL=${MEXT_BENCH_LOG_LEVEL:-warn}
read -r -a EXTRA_FLAGS <<<"${MEXT_BENCH_MEXTD_FLAGS:-}"
ROUNDS=${MEXT_BENCH_ROUNDS:-2}
WARMUP=${MEXT_BENCH_WARMUP_S:-3}
SERVER_CPU=${MEXT_BENCH_SERVER_CPU:-0}
CLIENT_CPU=${MEXT_BENCH_CLIENT_CPU:-1}
THREADS=${MEXT_BENCH_THREADS:-2}
CONNS=${MEXT_BENCH_CONNECTIONS:-64}
int_in DURATION_S "$DURATION" 1 3600
int_in MEXT_BENCH_ROUNDS "$ROUNDS" 1 10
int_in MEXT_BENCH_WARMUP_S "$WARMUP" 0 60
int_in MEXT_BENCH_SERVER_CPU "$SERVER_CPU" 0 4095
int_in MEXT_BENCH_CLIENT_CPU "$CLIENT_CPU" 0 4095
int_in MEXT_BENCH_THREADS "$THREADS" 1 64
int_in MEXT_BENCH_CONNECTIONS "$CONNS" 1 10000
case "$LOG_LEVEL" in debug | info | warn | error) ;; *) echo "bad MEXT_BENCH_LOG_LEVEL" >&2; exit 2 ;; esac
[ -f "$TEMPLATE" ] || { echo "missing $TEMPLATE" >&2; exit 1; }
MEXTD=$BUILD_DIR/mextd
if [ ! -x "$MEXTD" ]; then
  echo "missing $MEXTD: build it first (cmake --build $BUILD_DIR --target mextd)" >&2
  exit 1
fi

# -- 1. wrk and nginx ---------------------------------------------------------------------------

install_missing() {
  command -v wrk >/dev/null && command -v nginx >/dev/null && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "wrk/nginx missing and neither root nor sudo" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "# installing wrk and nginx with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(wrk nginx-light)
  apt-cache show nginx-light >/dev/null 2>&1 || pkgs=(wrk nginx)
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"; then
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"
  fi
}
install_missing
PATH=$PATH:/usr/sbin:/sbin
for tool in wrk nginx curl openssl taskset ss awk getconf timeout; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# -- temp dir and cleanup -----------------------------------------------------------------------

TMP=$(mktemp -d "${MEXT_BENCH_TMP:-${TMPDIR:-/tmp}}/mext-http-bench.XXXXXX")
MEXTD_PID=""
NGINX_PID=""

stop_pid() {  # stop_pid PID SIGNAL SECONDS: signal, wait at most SECONDS, then SIGKILL
  local pid=$1 sig=$2 secs=$3 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "# pid $pid did not stop after SIG$sig within ${secs}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pid "$NGINX_PID" QUIT 10
  stop_pid "$MEXTD_PID" TERM 30
  if [ "${MEXT_BENCH_KEEP:-0}" = 1 ]; then
    echo "# kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "http_bench: $*" >&2
  exit 1
}

pick_port() {  # a port nobody listens on (bounded tries); the server's bind is the real check
  local i p
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 30000))
    if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

CURL=(curl -sS -k --max-time 10)
CLK_TCK=$(getconf CLK_TCK)

# -- 2. mextd -----------------------------------------------------------------------------------

# A copy of the binary, so a rebuild of BUILD_DIR during the run cannot swap it underneath.
MEXTD_SRC=$MEXTD
MEXTD=$TMP/mextd
cp "$MEXTD_SRC" "$MEXTD"
PORT1=$(pick_port)
ADMIN_PASSWORD=$(openssl rand -base64 24)
MEXT_ADMIN_EMAIL=bench-admin@bench.invalid MEXT_ADMIN_PASSWORD=$ADMIN_PASSWORD \
  taskset -c "$SERVER_CPU" "$MEXTD" --data-dir "$TMP/data" --demo --listen "127.0.0.1:$PORT1" \
  --rate-limit-rps 0 --log-level "$LOG_LEVEL" "${EXTRA_FLAGS[@]}" \
  >"$TMP/mextd.out" 2>"$TMP/mextd.log" &
MEXTD_PID=$!
unset ADMIN_PASSWORD
for ((i = 0; i < 600; i++)); do  # at most 60 s: the demo hashes a few Argon2 passwords
  grep -q '^listening on ' "$TMP/mextd.out" 2>/dev/null && break
  if ! kill -0 "$MEXTD_PID" 2>/dev/null; then
    cat "$TMP/mextd.out" "$TMP/mextd.log" >&2
    MEXTD_PID=""
    die "mextd exited before listening"
  fi
  sleep 0.1
done
grep -q '^listening on ' "$TMP/mextd.out" || die "mextd did not print 'listening on' within 60 s"
M_URL=https://127.0.0.1:$PORT1

code=$("${CURL[@]}" -o "$TMP/exhibitions.json" -w '%{http_code}' "$M_URL/api/v1/exhibitions")
[ "$code" = 200 ] || die "GET /api/v1/exhibitions answered $code"
EXH_ID=$(grep -o '"exhibition_id":"[^"]*"' "$TMP/exhibitions.json" | head -n 1 | cut -d'"' -f4)
[[ $EXH_ID =~ ^exh_[A-Za-z0-9_-]+$ ]] || die "no exhibition id in $(cat "$TMP/exhibitions.json")"
URL_PATH=/api/v1/exhibitions/$EXH_ID/booths

NGX=$TMP/nginx
STATIC=$NGX/www$URL_PATH
mkdir -p "$(dirname "$STATIC")" "$NGX/tmp"
code=$("${CURL[@]}" -o "$STATIC" -w '%{http_code}' "$M_URL$URL_PATH")
[ "$code" = 200 ] || die "GET $URL_PATH from mextd answered $code"
[ -s "$STATIC" ] || die "empty booths answer"

# -- 3. nginx -----------------------------------------------------------------------------------

CERT=$TMP/data/tls/cert.pem
KEY=$TMP/data/tls/key.pem
[ -f "$CERT" ] && [ -f "$KEY" ] || die "mextd made no $CERT / $KEY"
USER_DIRECTIVE=""
if [ "$(id -u)" -eq 0 ]; then
  # Root master (it reads the 0600 key); workers as nobody, who may traverse but not list $TMP.
  USER_DIRECTIVE="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
  chmod 0711 "$TMP"
  chmod -R a+rX "$NGX/www"
  chmod 0755 "$NGX"
fi
PORT2=$(pick_port)
[ "$PORT2" != "$PORT1" ] || PORT2=$(pick_port)
sed -e "s|@DIR@|$NGX|g" -e "s|@PORT@|$PORT2|g" -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" \
  -e "s|@USER_DIRECTIVE@|$USER_DIRECTIVE|g" "$TEMPLATE" >"$NGX/nginx.conf"
nginx -q -t -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/nginx-error.log" ||
  die "nginx -t failed: $(cat "$NGX/nginx-error.log" 2>/dev/null)"
taskset -c "$SERVER_CPU" nginx -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/nginx-error.log" \
  >"$NGX/nginx.out" 2>&1 &
NGINX_PID=$!
N_URL=https://127.0.0.1:$PORT2
for ((i = 0; i < 100; i++)); do  # at most 10 s
  code=$(curl -sk --max-time 2 -o /dev/null -w '%{http_code}' "$N_URL$URL_PATH" 2>/dev/null || true)
  [ "$code" = 200 ] && break
  kill -0 "$NGINX_PID" 2>/dev/null || { NGINX_PID=""; die "nginx exited: $(cat "$NGX/nginx-error.log")"; }
  sleep 0.1
done
[ "$code" = 200 ] || die "nginx does not answer 200 on $URL_PATH (last: $code)"

# Same bytes from both, and what else differs: headers and the negotiated TLS.
check_bodies() {
  "${CURL[@]}" -o "$TMP/body-mextd" "$M_URL$URL_PATH"
  "${CURL[@]}" -o "$TMP/body-nginx" "$N_URL$URL_PATH"
  cmp -s "$STATIC" "$TMP/body-mextd" || die "mextd's booths answer changed since it was copied"
  cmp -s "$STATIC" "$TMP/body-nginx" || die "nginx does not serve the copied bytes"
}
check_bodies
"${CURL[@]}" -D "$TMP/headers-mextd" -o /dev/null "$M_URL$URL_PATH"
"${CURL[@]}" -D "$TMP/headers-nginx" -o /dev/null "$N_URL$URL_PATH"
tls_of() {
  timeout 10 openssl s_client -brief -connect "127.0.0.1:$1" -servername localhost </dev/null 2>&1 |
    awk -F': ' '/^Protocol version|^Ciphersuite|^Server Temp Key/ {printf "%s%s", sep, $2; sep=", "}'
}

echo "# mext HTTP bridge against nginx: GET booths, wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive, TLS on loopback"
echo "# date: $(date -u)"
echo "# nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# ram: $(grep MemTotal /proc/meminfo | awk '{print $2, $3}'); kernel: $(uname -r)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk: $(wrk -v 2>&1 | head -n 1)"
echo "# nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'), worker_processes 1, access_log off"
echo "# mextd: mextd --demo --rate-limit-rps 0 --log-level $LOG_LEVEL ${EXTRA_FLAGS[*]:-}"
echo "# mextd binary: $MEXTD_SRC built $(date -u -r "$MEXTD_SRC" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$MEXTD" | cut -c1-16), tree at $(git -C "$SCRIPT_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
echo "# pinning: servers on core $SERVER_CPU, wrk on core $CLIENT_CPU (taskset)"
echo "# path: $URL_PATH ($(wc -c <"$STATIC") body bytes, $(grep -o '"booth_id"' "$STATIC" | wc -l) booths, identical from both)"
echo "# response header bytes: mextd $(wc -c <"$TMP/headers-mextd"), nginx $(wc -c <"$TMP/headers-nginx")"
echo "# TLS mextd: $(tls_of "$PORT1")"
echo "# TLS nginx: $(tls_of "$PORT2")"

# -- 4. wrk -------------------------------------------------------------------------------------

server_pids() {  # the server's processes: mextd; nginx's master and its workers
  if [ "$1" = mextd ]; then
    echo "$MEXTD_PID"
  else
    echo "$NGINX_PID"
    ps -o pid= --ppid "$NGINX_PID" 2>/dev/null || true
  fi
}
cpu_ticks() {  # user+system clock ticks of the given pids (all their threads)
  local total=0 p t
  for p in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
core_ticks() {  # "busy total" ticks of one core from /proc/stat
  awk -v c="cpu$1" '$1 == c {b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; print b, t}' /proc/stat
}

FAILED=0
RESULTS=()
run_wrk() {  # run_wrk NAME URL LABEL SECONDS [report]
  local name=$1 url=$2 label=$3 secs=$4 report=${5:-}
  local out=$TMP/wrk-$label.txt pids s0 s1 c0a c0b c1a c1b
  pids=$(server_pids "$name")
  s0=$(cpu_ticks $pids)
  read -r c0a c0b <<<"$(core_ticks "$SERVER_CPU")"
  read -r c1a c1b <<<"$(core_ticks "$CLIENT_CPU")"
  local TIMEFORMAT='%R %U %S'
  { time timeout -k 5 $((secs + 60)) taskset -c "$CLIENT_CPU" \
    wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency "$url" >"$out" 2>&1; } 2>"$TMP/time-$label" ||
    echo "# wrk exited non-zero ($label)" >&2
  s1=$(cpu_ticks $pids)
  local d0 d1
  d0=$(core_ticks "$SERVER_CPU" | awk -v b="$c0a" -v t="$c0b" '{printf "%.0f%%", ($2 > t) ? 100 * ($1 - b) / ($2 - t) : 0}')
  d1=$(core_ticks "$CLIENT_CPU" | awk -v b="$c1a" -v t="$c1b" '{printf "%.0f%%", ($2 > t) ? 100 * ($1 - b) / ($2 - t) : 0}')
  [ -z "$report" ] && return 0
  echo
  echo "## $label: $name"
  cat "$out"
  local rps p50 p99 reqs non2xx sockerr wrk_cpu srv_cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  reqs=$(awk '/ requests in / {print $1}' "$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
  sockerr=$(awk -F': *' '/Socket errors/ {print $2}' "$out")
  wrk_cpu=$(awk '{printf "%.2f s (user %.2f + sys %.2f)", $2 + $3, $2, $3}' "$TMP/time-$label")
  srv_cpu=$(awk -v a="$s0" -v b="$s1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f s", (b - a) / hz}')
  if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
    echo "# FAIL: no requests measured ($label)"
    FAILED=1
  fi
  if [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
    echo "# FAIL: $non2xx non-2xx/3xx answers ($label)"
    FAILED=1
  fi
  if [ -n "$sockerr" ]; then
    echo "# FAIL: socket errors: $sockerr ($label)"
    FAILED=1
  fi
  RESULTS+=("$label|$name|${reqs:-?}|${rps:-?}|${p50:-?}|${p99:-?}|${non2xx:-0}|${sockerr:-none}|$srv_cpu|$wrk_cpu|$d0|$d1|$(cut -d' ' -f1 /proc/loadavg)")
}

if [ "$WARMUP" -gt 0 ]; then
  echo "# warm-up: ${WARMUP}s each, not reported"
  run_wrk mextd "$M_URL$URL_PATH" warmup-mextd "$WARMUP"
  run_wrk nginx "$N_URL$URL_PATH" warmup-nginx "$WARMUP"
fi
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk mextd "$M_URL$URL_PATH" "round$r-mextd" "$DURATION" report
  run_wrk nginx "$N_URL$URL_PATH" "round$r-nginx" "$DURATION" report
done
check_bodies  # both still answer the same bytes after the load

echo
echo "## summary (servers on core $SERVER_CPU, wrk on core $CLIENT_CPU; mextd --log-level $LOG_LEVEL)"
echo
echo "| run | server | requests | req/s | p50 | p99 | non-2xx/3xx | socket errors | server CPU | wrk CPU | core $SERVER_CPU busy | core $CLIENT_CPU busy | load avg (1 min) after |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for row in "${RESULTS[@]}"; do
  echo "| ${row//|/ | } |"
done
echo
printf '%s\n' "${RESULTS[@]}" | awk -F'|' '
  $2 == "mextd" { m[++nm] = $4; ms += $4 }
  $2 == "nginx" { n[++nn] = $4; ns += $4 }
  END {
    for (i = 1; i <= nm && i <= nn; i++)
      if (n[i] > 0) printf "ratio mextd/nginx, round %d: %.3f (%s / %s req/s)\n", i, m[i] / n[i], m[i], n[i]
    if (ns > 0) printf "ratio mextd/nginx, all rounds (mean req/s): %.3f (%.2f / %.2f req/s); goal >= 0.5\n", ms / ns, ms / nm, ns / nn
  }'
if [ "$LOG_LEVEL" != warn ] && [ "$LOG_LEVEL" != error ]; then
  echo "mextd log written during the run: $(wc -l <"$TMP/mextd.log") lines, $(wc -c <"$TMP/mextd.log") bytes"
fi
if [ "$FAILED" != 0 ]; then
  echo "http_bench: some run saw errors (see FAIL lines above)" >&2
  exit 1
fi
