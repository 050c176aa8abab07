"""The old lab app's status and test routes, on labrt.compat.

The old app kept its state in module-level dicts behind an RLock: each
gunicorn worker had its own, so a test started through one worker was
invisible to the others, and two workers could start two tests on the same
hardware. Here the only change is where the managers come from: with
LABRT_SERVER set they are the daemon's (labctl serve), so all workers share
one status and one test slot.

    LABRT_SERVER=http://127.0.0.1:8080 gunicorn -w 4 -b 127.0.0.1:5000 app:app

The managers are fetched per request, never at import: under
`gunicorn --preload` the module is imported before the fork, and labrt's
objects do not cross a fork (the getters make new ones in each worker).
"""

import os
import signal
import subprocess
import threading

from flask import Flask, jsonify, request

import labrt
from labrt.compat import get_service_status_manager, get_test_execution_manager

app = Flask(__name__)

# Where the scripts a test may run live (the old app's tests directory).
SCRIPTS = os.path.realpath(os.environ.get("LAB_SCRIPTS", "tests"))


def _tests():
    tests = get_test_execution_manager()
    tests.start_timeout = 0  # A web request is refused at once, not queued.
    return tests


@app.get("/api/status")
def status():
    return jsonify(get_service_status_manager().get_all_status())


@app.get("/api/test/status")
def test_status():
    return jsonify(get_test_execution_manager().get_state())


@app.post("/api/test/start")
def start_test():
    body = request.get_json(silent=True) or {}
    script = os.path.realpath(os.path.join(SCRIPTS, str(body.get("script", ""))))
    if not script.startswith(SCRIPTS + os.sep) or not os.path.isfile(script):
        return jsonify(error="no such script"), 400
    tests = _tests()
    # The slot first, then the process: a refused start runs nothing.
    try:
        tests.start_test(body["script"], None, bin=body.get("bin"),
                         topology=body.get("topology"))
    except labrt.AlreadyRunningError as e:
        return jsonify(error=str(e)), 409
    try:
        proc = subprocess.Popen([script], start_new_session=True,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError as e:
        tests.stop_test()
        return jsonify(error=f"cannot start {body['script']}: {e}"), 500
    tests.update_state({"pid": proc.pid})
    # The slot is freed when the script ends, whoever stops it.
    threading.Thread(target=_release_at_exit, args=(proc,), daemon=True).start()
    return jsonify(tests.get_state()), 201


def _release_at_exit(proc):
    proc.wait()
    tests = get_test_execution_manager()
    if tests.get_pid() == proc.pid:
        tests.stop_test()


@app.post("/api/test/stop")
def stop_test():
    tests = get_test_execution_manager()
    pid = tests.get_pid()
    if not tests.is_running() or not pid:
        return jsonify(error="no test is running"), 409
    try:
        os.killpg(pid, signal.SIGTERM)  # Its own session: the whole tree.
    except ProcessLookupError:
        pass
    return jsonify(tests.get_state())
