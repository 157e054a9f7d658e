#!/bin/sh
# Run every test binary of a build directory; print one closing line
# "N passed, N failed" and exit non-zero when anything failed.
BUILD=${1:-build}
passed=0
failed=0
for t in "$BUILD"/tests/*; do
  [ -x "$t" ] || continue
  echo "== $t"
  if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
for s in tests/scripts/*.sh; do
  [ -f "$s" ] || continue
  echo "== $s"
  if bash "$s" "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $s"; fi
done
echo "$BUILD: $passed passed, $failed failed"
[ "$failed" = 0 ]
