#!/usr/bin/env bash
# The long fuzzing runs: every libFuzzer target of tests/fuzz for SECONDS each (default 600),
# one after another, on a copy of its committed corpus, in the sanitizer tree.
#   ./dev.sh build-asan && bench/fuzz.sh [SECONDS] [TARGET ...]
# Prints one summary line per target (executions, executions/s, corpus, findings) and keeps the
# whole output in bench/results/fuzz-<UTC time>.txt. A crash leaves its input as
# var/fuzz/<target>/crash-*; turn it into a regression by copying it to
# tests/fuzz/regressions/<target>/ (ctest runs those first, every time).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-600}
shift || true
ASAN_DIR=${MEXT_ASAN_BUILD_DIR:-build-asan}
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(fuzz_http_request fuzz_json_bodies fuzz_websocket fuzz_records fuzz_user_agent
    fuzz_scenario)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=bench/results/fuzz-$STAMP.txt
mkdir -p bench/results
{
  echo "# bench/fuzz.sh $SECONDS_EACH ${TARGETS[*]}"
  echo "# $(date -u) · $(nproc) cores · $(uname -r) · $(clang --version | head -1)"
} >"$OUT"

for t in "${TARGETS[@]}"; do
  bin=$ASAN_DIR/tests/fuzz/$t
  if [ ! -x "$bin" ]; then
    echo "missing $bin: run ./dev.sh build-asan first" >&2
    exit 1
  fi
  work=var/fuzz/$t
  mkdir -p "$work/corpus"
  regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions=("tests/fuzz/regressions/$t")
  log=$work/run-$STAMP.log
  set +e
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=6144 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "${regressions[@]}" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  rate=$(grep -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$log" | tail -1 | awk '{print $2}')
  corpus=$(find "$work/corpus" -type f | wc -l)
  slowest=$(grep -o 'stat::slowest_unit_time_sec:[[:space:]]*[0-9]*' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  findings=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' \
    -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
  line="$t: ${SECONDS_EACH} s, ${execs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges, corpus $corpus inputs, slowest input ${slowest:-?} s, findings $findings, exit $rc"
  echo "$line" | tee -a "$OUT"
  grep -E '^==[0-9]+==ERROR|^SUMMARY|finding:|fuzz_server:' "$log" | head -20 >>"$OUT" || true
done
echo "written: $OUT"
