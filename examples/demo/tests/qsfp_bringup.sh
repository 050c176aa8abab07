#!/bin/sh
# Demo: brings up a stand-in qsfp_service (a copy of sleep under that name),
# checks on it for a while, then stops it. The monitor sees it come and go.
set -eu
dir=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$dir"' EXIT
cp /bin/sleep "$dir/qsfp_service"
"$dir/qsfp_service" 3600 &
daemon=$!
echo "qsfp_service started (pid $daemon)"
for port in 1 2 3 4 5 6 7 8; do
  sleep 1
  echo "port eth1/$port/1: transceiver present, link up"
done
echo "bring-up done"
