#!/bin/bash
# Demo: a link test with its sai_mono_link_test helper (matched by cmdline),
# some output on stdout and stderr, and a verdict. Args: [ROUNDS].
set -eu
rounds=${1:-20}
(exec -a "sai_mono_link_test --impl sai_impl" sleep 3600) &
helper=$!
trap 'kill "$helper" 2>/dev/null || true' EXIT
echo "link test: $rounds rounds, topology ${LABRT_TOPOLOGY:-default}"
for i in $(seq 1 "$rounds"); do
  sleep 0.5
  echo "round $i/$rounds: 32 links up, 0 flaps"
  [ $((i % 7)) -eq 0 ] && echo "round $i: slow port eth1/3/1 (warning)" >&2
done
echo "PASS"
