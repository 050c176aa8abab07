#!/bin/sh
# The same line, many times on both streams: only numbers tell them apart.
i=0
while [ $i -lt 300 ]; do
  echo same
  echo same >&2
  i=$((i + 1))
done
printf 'same tail'
