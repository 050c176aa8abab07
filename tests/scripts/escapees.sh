#!/bin/sh
# Ignores SIGTERM (so only SIGKILL ends it) and starts escapees without end:
# each a sleep that leaves by setsid after a double fork, so the runtime (a
# child subreaper) adopts it. A stop catches them at every step, from fork
# through setsid to the exec of sleep. Prints "started N" after the Nth.
trap '' TERM
echo ready
n=0
while :; do
  ( setsid sleep 3600 & )
  n=$((n + 1))
  echo "started $n"
done
