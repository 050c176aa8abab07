#!/usr/bin/env bash
# One scheduler setting against the daemon: `labctl serve` with the demo config
# plus a "scheduler" section, its CPU over 20 s idle, then wrk on the status
# route. Usage: bench/sched_http.sh '{"sleeping_polls": 20}' [PORT]
# (needs the release build of labctl and wrk: scripts/bootstrap bench).
set -euo pipefail
cd "$(dirname "$0")/.."
sched=$1
port=${2:-18090}
labctl=${LABCTL:-build/release/examples/labctl/labctl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$sched" "$port" "$PWD" "$work" > "$work/cfg.json" <<'PY'
import json, sys
sched, port, top, work = sys.argv[1:]
d = json.load(open(top + '/examples/demo/labrt.json'))
d['runner']['roots'] = [top + '/examples/demo/tests']
d['state_dir'] = work + '/state'
d['http']['listen'] = '127.0.0.1:' + port
d['scheduler'] = json.loads(sched)
print(json.dumps(d))
PY
"$labctl" serve --config "$work/cfg.json" 2> "$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -q "serving on" "$work/serve.log" && break
  sleep 0.1
done
sleep 2 # Past start-up work.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks); sleep 20; t1=$(ticks)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d / hz / 20 * 100}')
wrk=$(wrk -t2 -c64 -d4s --latency "http://127.0.0.1:$port/api/test/status")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$wrk")
p50=$(awk '$1 == "50%" {print $2}' <<<"$wrk")
echo "$sched | idle CPU $cpu % | $rps req/s, p50 $p50"
