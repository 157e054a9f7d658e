# script.sh - how a test script here begins: $BUILD (argument 1), $T a
# temporary directory that goes at exit with the backend $BE if one was
# started, ok/bad to report and $failed counting the bad.
BUILD=${1:-build}
T=$(mktemp -d "/tmp/myrixen-$(basename "$0" .sh)-XXXXXX")
trap 'kill $BE 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
failed=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
# make install of this tree's BUILD with extra make arguments (DESTDIR,
# PREFIX), or a failure reported and the script ended.
install_tree() {
  local root b
  root=$(cd "$(dirname "$0")/../.." && pwd); b=$(cd "$BUILD" && pwd)
  make -s -C "$root" install BUILD="$b" "$@" > "$T/install.out" 2>&1 ||
    { bad "make install"; tail -5 "$T/install.out"; exit 1; }
}
