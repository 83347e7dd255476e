#!/usr/bin/env bash
# Builds the libFuzzer targets of Benchmarks/fuzz (with AddressSanitizer) and runs each for a
# bounded time, one after another. Prints one line per target; exits 1 when any target found a
# crash, a leak or a hang (its reproducer is kept under .build-fuzz/fuzz/artifacts/TARGET/).
#
#   Benchmarks/fuzz/run.sh [--seconds N] [--no-asan] [TARGET…]
#
# TARGET is a folder name such as fuzz-configuration (default: all). New inputs go to
# .build-fuzz/fuzz/corpus/TARGET, never into the repository; the seeds in
# Benchmarks/fuzz/corpus/TARGET are read only. Replay one input:
#   SWIFT_BACKTRACE=enable=no .build-fuzz/debug/fuzz-values Benchmarks/fuzz/corpus/fuzz-values/fixed-duration-1e16
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=60
sanitize=(--sanitize=address)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --no-asan) sanitize=(); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz-configuration fuzz-values fuzz-revision fuzz-date fuzz-outcome fuzz-step-note fuzz-invocation)
fi

# The fuzz targets exist in Package.swift only with this set; their own build folder keeps the
# normal build warm. One product at a time (SwiftPM links a product per call), two jobs at most.
export BISECT_DEPLOY_FUZZ=1
scratch=.build-fuzz
mkdir -p "$scratch"
for target in "${targets[@]}"; do
  [ -d "Benchmarks/fuzz/$target" ] || { echo "no fuzz target $target" >&2; exit 2; }
  echo "building $target" >&2
  if ! swift build --scratch-path "$scratch" -c debug -j 2 "${sanitize[@]}" -Xswiftc -sanitize=fuzzer \
    --product "$target" >"$scratch/$target.build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch/$target.build.log" | tail -20 >&2
    echo "$target: build failed (log: $scratch/$target.build.log)" >&2
    exit 2
  fi
done

work="$scratch/fuzz"
# A target that stops on a finding leaves its fixture behind: start clean.
rm -rf "$work/tmp"
mkdir -p "$work/tmp"
# The Swift runtime's own crash handler would read freed memory under ASan after a trap and
# hide the trap's message behind a false report: libFuzzer reports the trap instead.
export SWIFT_BACKTRACE=enable=no
# fuzz-revision builds its fixture repository here (removed when it exits normally).
export TMPDIR="$PWD/$work/tmp"
# parseDate reads dates in the machine's time zone: one with daylight saving time.
export TZ=Europe/Paris
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$PWD/Benchmarks/fuzz/lsan.supp:print_suppressions=0"

failed=0
for target in "${targets[@]}"; do
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  log="$work/$target.log"
  dict=()
  [ -f "Benchmarks/fuzz/dict/$target.dict" ] && dict=(-dict="Benchmarks/fuzz/dict/$target.dict")
  status=0
  started=$SECONDS
  "$scratch/debug/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="$work/artifacts/$target/" \
    "$work/corpus/$target" "Benchmarks/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  if [ -z "$executions" ]; then
    # A crash ends the run before the final stats: take the last progress line.
    executions=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  fi
  line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$line")
  took=$((SECONDS - started))
  if [ "$status" -eq 0 ]; then
    result="ok"
  else
    failed=1
    artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1 || true)
    reason=$(grep -m1 -E 'Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" | cut -c1-160 || true)
    result="FAILED (exit $status): ${reason:-see log}; input: ${artifact:-none}"
  fi
  printf '%-20s %10s executions in %3s s  cov %-5s ft %-6s corpus %-5s %s (log: %s)\n' \
    "$target" "${executions:-?}" "$took" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" "$log"
done
exit "$failed"
