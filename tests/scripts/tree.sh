#!/bin/sh
# Two background subshells blocked opening the FIFO $1, their pids, "ready",
# then waits for them.
( read x < "$1" ) </dev/null >/dev/null 2>&1 &
echo "child $!"
( read x < "$1" ) </dev/null >/dev/null 2>&1 &
echo "child $!"
echo ready
wait
