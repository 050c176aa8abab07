#!/bin/sh
# Prints "line 1", "line 2", ... (bursts of 100, about 10000 a second) until
# the file $1 exists, then exits with $2 (default 0).
i=1
while [ ! -e "$1" ]; do
  end=$((i + 100))
  while [ $i -lt $end ]; do
    echo "line $i"
    i=$((i + 1))
  done
  sleep 0.01
done
exit "${2:-0}"
