#!/bin/sh
# Leaves two processes behind that escape the run: one in its own session
# (setsid), one orphaned by a double fork. Both block opening the FIFO $1
# (a shell builtin: no child that could be caught mid-exec), print their pid
# once in place and drop our stdout, so the run's pipes reach EOF when this
# script exits.
setsid sh -c 'echo "setsid $$"; exec >/dev/null 2>&1; read x < "$1"' sh "$1" \
  </dev/null &
( ( read x < "$1" ) </dev/null >/dev/null 2>&1 &
  echo "orphan $!" )
exit 0
