#!/usr/bin/env bash
# The old lab app's status route against examples/flask_app under gunicorn,
# in one run: wrk on GET /api/test/status of
#   old:    bench/flask_baseline.py, one process (Flask's threaded server, a
#           dict behind an RLock: what the old app ran, one state per process);
#   labrt:  examples/flask_app, gunicorn -w 4 on labrt.compat in remote mode
#           (every worker asks the daemon: one state for all).
# Usage: PYTHONPATH=build/release/python bench/flask_workers.sh
#          [LABCTL] [SECONDS]   (needs wrk, gunicorn, python3-flask)
set -euo pipefail
cd "$(dirname "$0")/.."
labctl=${1:-build/release/examples/labctl/labctl}
seconds=${2:-10}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

wait_for() { # FILE TEXT: until FILE has TEXT, 20 s at most
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done
  echo "flask_workers: no '$2' in $1" >&2; exit 1
}
rate() { # URL: requests/s of wrk
  wrk -t2 -c16 -d"${seconds}s" "$1" | awk '/Requests\/sec/ {print $2}'
}

/usr/bin/python3 bench/flask_baseline.py '{"script": "link_test.py", "pid": 4242}' \
  > "$work/old.port" 2>/dev/null &
pids+=($!)
wait_for "$work/old.port" '[0-9]'
old=$(rate "http://127.0.0.1:$(cat "$work/old.port")/api/test/status")

echo "{\"runner\": {\"roots\": [\"$work\"]}, \"http\": {\"listen\": \"127.0.0.1:0\"}}" \
  > "$work/lab.json"
"$labctl" serve --config "$work/lab.json" 2> "$work/serve.log" &
pids+=($!)
wait_for "$work/serve.log" "serving on"
url=$(sed -n 's/.* serving on \(http[^ ]*\).*/\1/p' "$work/serve.log" | head -1)
LABRT_SERVER=$url /usr/bin/python3 /usr/bin/gunicorn -w 4 -b 127.0.0.1:0 \
  --chdir examples/flask_app app:app 2> "$work/gunicorn.log" &
pids+=($!)
wait_for "$work/gunicorn.log" "Listening at:"
app=$(sed -n 's/.*Listening at: \(http[^ ]*\).*/\1/p' "$work/gunicorn.log" | head -1)
labrt=$(rate "$app/api/test/status")

echo "| app | GET /api/test/status, requests/s (wrk -t2 -c16 -d${seconds}s) |"
echo "| --- | ---: |"
echo "| old: Flask threaded, one process, an RLock'd dict | $old |"
echo "| labrt: gunicorn -w 4, labrt.compat remote mode | $labrt |"
awk -v a="$labrt" -v b="$old" 'BEGIN {printf "\nratio labrt/old: %.2f\n", a / b}'
