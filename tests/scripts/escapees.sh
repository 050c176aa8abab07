#!/bin/sh
# Ignores SIGTERM (so only SIGKILL ends it) and starts up to 500 escapees:
# each a sleep that leaves by setsid after a double fork, so the runtime (a
# child subreaper) adopts it. A stop catches them at every step, from fork
# through setsid to the exec of sleep. Prints "started N" after the Nth.
# Bounded, so that a test that misses its moment leaves no fork bomb behind.
trap '' TERM
echo ready
n=0
while [ "$n" -lt 500 ]; do
  ( setsid sleep 3600 & )
  n=$((n + 1))
  echo "started $n"
done
sleep 3600
