#!/usr/bin/env bash
# Runs every benchmark and prints its figures; bench/RESULTS.md holds the figures written up.
#   bench/run.sh BUILD_DIR           full run (7 to 12 minutes on the 2-core dev machine)
#   bench/run.sh BUILD_DIR quick     small sizes: a smoke check that everything runs (< 1 minute)
# ./dev.sh bench [quick] builds first and then calls this.
# Temp data goes under $MEXT_BENCH_TMP (default ./var/bench-tmp, on the working dir's file system;
# fsync figures depend on it) and is removed by each benchmark. A copy of the output is kept in
# var/bench-logs/.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [quick]" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
MODE=${2:-full}
cd "$(dirname "$0")/.."

TMP_BASE=${MEXT_BENCH_TMP:-var/bench-tmp}
mkdir -p "$TMP_BASE" var/bench-logs
LOG=var/bench-logs/bench-$(date -u +%Y%m%dT%H%M%SZ)-$MODE.txt

for b in commit_bench activation_bench privacy_bench; do
  if [ ! -x "$BUILD_DIR/bench/$b" ]; then
    echo "missing $BUILD_DIR/bench/$b: build first (./dev.sh build)" >&2
    exit 1
  fi
done

run() {
  echo
  echo "\$ $*"
  "$@"
}

{
  echo "# mext benchmarks, mode $MODE"
  echo "# date: $(date -u)"
  echo "# nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "# ram: $(grep MemTotal /proc/meminfo | awk '{print $2, $3}'); kernel: $(uname -r)"
  echo "# uptime: $(uptime)"
  echo "# temp dir: $TMP_BASE on $(df -P "$TMP_BASE" | awk 'NR==2 {print $1}')"
  case "$MODE" in
    quick)
      run "$BUILD_DIR/bench/commit_bench" --tmp "$TMP_BASE" --records 20000 --reps 1 \
        --max-seconds 30
      run "$BUILD_DIR/bench/activation_bench" --tmp "$TMP_BASE" --users 20000 --sample 2000 \
        --resident 10000 --idle-ms 2000 --max-populate-seconds 120
      run "$BUILD_DIR/bench/privacy_bench" --tmp "$TMP_BASE" --posts 2000 --writers 16 \
        --rounds 1 --holders 10,100 --reps 2
      ;;
    full)
      run "$BUILD_DIR/bench/commit_bench" --tmp "$TMP_BASE" --batches 100,1000 --reps 5
      run "$BUILD_DIR/bench/privacy_bench" --tmp "$TMP_BASE" --posts 20000 --writers 64 \
        --rounds 4 --holders 10,100,1000 --reps 10
      run "$BUILD_DIR/bench/activation_bench" --tmp "$TMP_BASE" --users 100000 --sample 10000 \
        --resident 100000 --idle-ms 5000
      run "$BUILD_DIR/bench/activation_bench" --tmp "$TMP_BASE" --users 1000000 --sample 10000 \
        --resident 100000 --idle-ms 5000 --max-populate-seconds 900
      # Diagnostic: the same as the first, with CAF's idle workers not sleeping between polls,
      # to show how much of the request latency is the scheduler's wake-up.
      run "$BUILD_DIR/bench/activation_bench" --tmp "$TMP_BASE" --users 100000 --sample 10000 \
        --resident 100000 --idle-ms 5000 --moderate-sleep-us 0
      ;;
    *)
      echo "unknown mode $MODE (quick or full)" >&2
      exit 2
      ;;
  esac
  echo
  echo "# done: $(date -u); uptime: $(uptime)"
} 2>&1 | tee "$LOG"
echo "(output kept in $LOG)"
