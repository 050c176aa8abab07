#!/bin/bash
# Floods stdout and stderr. With a line count it ends by itself; without one
# it floods until stopped.
line="chatty $$ 0123456789abcdefghijklmnopqrstuvwxyz 0123456789abcdefghijklmnopqrstuvwxyz"
if [ "${1:-0}" -gt 0 ]; then
  yes "$line" | head -n "$1"
  yes "err $line" | head -n "$(($1 / 10))" >&2
else
  yes "$line" &
  yes "err $line" >&2 &
  wait
fi
