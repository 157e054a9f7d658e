#!/bin/sh
# Run every fuzz target of BUILD (argument 1) for FUZZ_SECONDS each, from
# the seeds in tests/fuzz/corpus and what earlier runs found; fail on the
# first crash, leak or sanitizer report (its input is left in
# BUILD/crash-TARGET-*).
set -e
build=${1:-build/fuzz}
secs=${FUZZ_SECONDS:-600}
fails=0
for bin in "$build"/fuzz/fuzz_*; do
  name=${bin##*/fuzz_}
  seeds=tests/fuzz/corpus/$name
  work=$build/corpus/$name
  mkdir -p "$work"
  echo "fuzz $name: $secs s"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$build/crash-$name-" -print_final_stats=1 \
      "$work" "$seeds" >"$build/$name.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$name.log" | sed "s/^/  /"
    echo "ok fuzz $name"
  else
    tail -40 "$build/$name.log"
    echo "FAIL fuzz $name (log: $build/$name.log)"
    fails=$((fails + 1))
  fi
done
[ "$fails" = 0 ]
