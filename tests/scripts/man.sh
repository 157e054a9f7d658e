#!/bin/bash
# The manual pages render without a warning: groff -ww (all warnings) and
# man -l, for myrixend(8), myrixen(1), libmyrixen(3), myrixend.conf(5).
cd "$(dirname "$0")/../.." || exit 1
failed=0
for page in myrixend.8 myrixen.1 libmyrixen.3 myrixend.conf.5; do
  f=man/$page
  warn=$( { groff -ww -z -man "$f"; } 2>&1)
  text=$(MANWIDTH=80 man -l "$f" 2> "/tmp/man-$$.err")
  err=$(cat "/tmp/man-$$.err"); rm -f "/tmp/man-$$.err"
  title=$(echo "$text" | head -1 | awk '{print $1}')
  if [ -f "$f" ] && [ -z "$warn" ] && [ -z "$err" ] && [ "$(echo "$text" | wc -l)" -gt 20 ] &&
     [ "$title" = "$(echo "${page%.*}" | tr a-z A-Z)(${page##*.})" ]; then
    echo "ok   man $page: $(echo "$text" | wc -l) lines, no warnings"
  else
    echo "FAIL man $page: ${warn}${err} (title '$title')"; failed=1
  fi
done
exit $failed
