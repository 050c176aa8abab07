#!/bin/sh
# Interleaved lines on stdout and stderr, then a last stdout line without '\n'.
echo "out 1"
echo "err 1" >&2
echo "out 2"
echo "err 2" >&2
printf 'out tail'
