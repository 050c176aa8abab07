#!/bin/sh
# Ignores SIGTERM, and so does its escapee: a shell that leaves by setsid
# after a double fork (so the runtime, a child subreaper, adopts it) and
# holds $1 MB (default 64). Its death by SIGKILL takes a while: the kernel
# frees that memory after the process lost its address space, when /proc
# shows no environ (no cookie) and no zombie yet. Prints "escapee PID".
trap '' TERM
( setsid sh -c 'x=$(head -c "$1"000000 /dev/zero | tr "\0" x)
  echo "escapee $$"
  while :; do sleep 1; done' sh "${1:-64}" & )
while :; do sleep 1; done
