#!/bin/sh
# Like escape.sh, but exits only after both escapees printed their pid, so
# that a runner killing leftovers at exit cannot kill them before they do.
# $1: an empty directory (gets the FIFO they block on and a pid file).
mkfifo "$1/fifo"
setsid sh -c 'echo "setsid $$"; echo $$ > "$2/setsid.pid";
  exec >/dev/null 2>&1; read x < "$1"' sh "$1/fifo" "$1" </dev/null &
( ( read x < "$1/fifo" ) </dev/null >/dev/null 2>&1 &
  echo "orphan $!" )
while [ ! -s "$1/setsid.pid" ]; do :; done
exit 0
