#!/usr/bin/env bash
# The two entry points of the project:
#   ./dev.sh demo   installs what is missing, builds, starts mextd with the demo exhibition under ./var
#   ./dev.sh test   installs what is missing, builds, runs every test suite through ctest
#                 (the plain build; again under AddressSanitizer+UndefinedBehaviorSanitizer with
#                 the fuzz targets; the actor, persistence and WebSocket suites under
#                 ThreadSanitizer)
# Other verbs: deps (install packages only), build, build-asan, build-tsan, bench.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(g++ cmake ninja-build ccache pkg-config make
  libcaf-dev capnproto libcapnp-dev liblmdb-dev libssl-dev openssl
  nlohmann-json3-dev libboost-dev libboost-test-dev libargon2-dev libmaxminddb-dev curl nodejs npm
  clang libclang-rt-dev llvm)

# Packages a command on the PATH may stand for: NodeSource's nodejs, for one, bundles npm and
# conflicts with Debian's npm package.
declare -A PROVIDED_BY_COMMAND=([nodejs]=node [npm]=npm)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    if [ -n "${PROVIDED_BY_COMMAND[$p]:-}" ] && command -v "${PROVIDED_BY_COMMAND[$p]}" >/dev/null; then
      continue
    fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Clean clones (CI) share the compiler cache with earlier checkouts: paths are made relative.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

BUILD_DIR=${MEXT_BUILD_DIR:-build}
ASAN_DIR=${MEXT_ASAN_BUILD_DIR:-build-asan}
TSAN_DIR=${MEXT_TSAN_BUILD_DIR:-build-tsan}
BUILD_TYPE=${MEXT_BUILD_TYPE:-RelWithDebInfo}

build() {
  deps
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
  cmake --build "$BUILD_DIR" -j "${MEXT_JOBS:-2}"
}

# The sanitizer tree: clang, AddressSanitizer and UndefinedBehaviorSanitizer on every target,
# and the libFuzzer targets of tests/fuzz. -O0 halves its build time; the suites stay quick.
build_asan() {
  deps
  CC=clang CXX=clang++ cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only" \
    -DMEXT_SANITIZE=address,undefined -DMEXT_FUZZ=ON >/dev/null
  cmake --build "$ASAN_DIR" -j "${MEXT_JOBS:-2}"
}

# The ThreadSanitizer tree: the concurrency-heavy suites only (actors, persistence, WebSocket),
# each with tests/tsan/caf_happens_before.cpp, which shows TSan the hand-offs inside Debian's
# uninstrumented CAF; tsan_canary proves a race between actors is still reported. The WebSocket
# suites run the real server: its I/O threads, the room hub and the per-connection actors.
TSAN_SUITES=(agenda_actor_test booth_actor_test chat_room_actor_test connection_log_actor_test
  directory_test exhibition_actor_test organization_actor_test privacy_actor_test
  retention_actor_test store_actor_test user_actor_test persistence_test api_websocket_test
  ws_protocol_test tsan_canary)
build_tsan() {
  deps
  CC=clang CXX=clang++ cmake -S . -B "$TSAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DMEXT_SANITIZE=thread >/dev/null
  cmake --build "$TSAN_DIR" -j "${MEXT_JOBS:-2}" --target "${TSAN_SUITES[@]}"
}
tsan_test_regex() {
  local IFS='|'
  echo "^(${TSAN_SUITES[*]})\$"
}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# Sanitizer findings abort the process (and so fail the test) and name the line.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  build-asan) build_asan ;;
  build-tsan) build_tsan ;;
  demo)
    build
    shift
    mkdir -p var
    # The first start needs an administrator: unless one is given, the demo makes its own and
    # keeps the password in var/admin-password (mode 0600).
    if [ -z "${MEXT_ADMIN_EMAIL:-}" ]; then
      export MEXT_ADMIN_EMAIL=admin@demo.invalid
      if [ ! -s var/admin-password ]; then
        (umask 077 && openssl rand -hex 16 > var/admin-password)
      fi
      MEXT_ADMIN_PASSWORD=$(cat var/admin-password)
      export MEXT_ADMIN_PASSWORD
      echo "demo administrator: $MEXT_ADMIN_EMAIL, password in var/admin-password"
    fi
    exec "$BUILD_DIR/mextd" --data-dir var --listen "${MEXT_LISTEN:-127.0.0.1:8443}" --demo "$@"
    ;;
  test)
    build
    # The OpenAPI validator of the openapi_validate test, pinned by its package-lock.json.
    npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "${MEXT_JOBS:-2}" --timeout 600)
    # Every suite again under ASan+UBSan, and each fuzz target briefly on its corpus.
    build_asan
    (cd "$ASAN_DIR" && ctest --output-on-failure -j "${MEXT_JOBS:-2}" --timeout 900)
    build_tsan
    # One class of report was CAF's own (an actor's cleanup against its destruction when
    # libcaf_core drops the last reference inside itself, README "Sanitizers"); it is annotated
    # now, and until more runs show it gone a suite that reports once runs once more: a report
    # that repeats fails.
    (cd "$TSAN_DIR" && ctest --output-on-failure -j "${MEXT_JOBS:-2}" --timeout 900 \
      --repeat until-pass:2 -R "$(tsan_test_regex)")
    ;;
  bench)
    build
    shift
    exec bench/run.sh "$BUILD_DIR" "$@"
    ;;
  *)
    echo "usage: $0 demo|test|build|build-asan|build-tsan|deps|bench" >&2
    exit 2
    ;;
esac
