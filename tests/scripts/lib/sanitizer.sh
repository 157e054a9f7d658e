# san_flags LIBRARY: the -fsanitize flags a program linked with LIBRARY
# needs (a sanitizer build's library needs its runtime first in the
# program: ASan aborts otherwise); nothing for a plain build.
san_flags() {
  case "$(readelf -d "$1" 2>/dev/null)" in
    *libasan*) echo "-fsanitize=address,undefined" ;;
    *libtsan*) echo "-fsanitize=thread" ;;
  esac
}
