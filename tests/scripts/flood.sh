#!/bin/sh
# Floods both streams at once with $1 bytes each: stdout as 100-byte lines
# (99 zeros and '\n'), stderr as one newline-less line of 'x'.
n="${1:-60000000}"
yes "$(printf '%099d' 0)" | head -c "$n" &
head -c "$n" /dev/zero | tr '\0' 'x' >&2
wait
