#!/bin/sh
# Run every test of a build directory: the test binaries (each a registry
# of named tests) and the scripts.  Every test prints one line, "ok   NAME"
# or "FAIL NAME ..."; this runner counts those lines, not the programs, and
# counts a program that failed without naming a test as one failed test.
# Closing line: "N passed, N failed"; exit non-zero when anything failed.
BUILD=${1:-build}
passed=0
failed=0
log=$(mktemp /tmp/myrixen-run-XXXXXX)
trap 'rm -f "$log" "$log.rc"' EXIT

# run NAME CMD...: run one test program, count its tests
run() {
  name=$1
  shift
  echo "== $name"
  start=$(date +%s)
  { "$@" 2>&1; echo $? > "$log.rc"; } | tee "$log"
  rc=$(cat "$log.rc")
  echo "== $name: $(($(date +%s) - start)) s"
  ok=$(grep -c '^ok ' "$log")
  bad=$(grep -c '^FAIL' "$log")
  if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
    echo "FAIL $name exited with status $rc"
    bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
}

for t in "$BUILD"/tests/*; do
  [ -x "$t" ] && run "$t" "$t"
done
for s in tests/scripts/*.sh; do
  [ -f "$s" ] && run "$s" bash "$s" "$BUILD"
done
echo "$BUILD: $passed passed, $failed failed"
[ "$failed" = 0 ]
