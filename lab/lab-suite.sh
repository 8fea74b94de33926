#!/bin/sh
# Runs each bundled lab test file in its own node process with a time limit, between markers.
M='@@VFIOKIT-LAB@@'
limit=${LAB_FILE_LIMIT_S:-300}
fail=0
for f in /opt/vfiokit/test/lab/*.mjs; do
  [ -e "$f" ] || continue
  n=$(basename "$f")
  echo "$M {\"ev\":\"file-start\",\"file\":\"$n\"}"
  timeout "$limit" node "$f" 2>&1
  c=$?
  echo "$M {\"ev\":\"file-end\",\"file\":\"$n\",\"code\":$c}"
  [ $c -eq 0 ] || fail=1
done
exit $fail
