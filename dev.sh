#!/usr/bin/env bash
# The two entry points of the project:
#   ./dev.sh demo   installs what is missing, builds, starts mextd with the demo exhibition under ./var
#   ./dev.sh test   installs what is missing, builds, runs every test suite through ctest
# Other verbs: deps (install packages only), build, bench.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(g++ cmake ninja-build ccache pkg-config make
  libcaf-dev capnproto libcapnp-dev liblmdb-dev libssl-dev openssl
  nlohmann-json3-dev libboost-dev libboost-test-dev libargon2-dev libmaxminddb-dev curl nodejs npm)

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

BUILD_DIR=${MEXT_BUILD_DIR:-build}
BUILD_TYPE=${MEXT_BUILD_TYPE:-RelWithDebInfo}

build() {
  deps
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
  cmake --build "$BUILD_DIR" -j "${MEXT_JOBS:-2}"
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
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
    cd "$BUILD_DIR"
    ctest --output-on-failure -j "${MEXT_JOBS:-2}" --timeout 600
    ;;
  bench)
    build
    shift
    exec bench/run.sh "$BUILD_DIR" "$@"
    ;;
  *)
    echo "usage: $0 demo|test|build|deps|bench" >&2
    exit 2
    ;;
esac
