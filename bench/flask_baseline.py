#!/usr/bin/env python3
"""The old design's status route, the baseline of labrt-bench-http.

Like the old lab app: the test state is a global dict guarded by a
threading.RLock, served by Flask's threaded server (a thread per
connection). Usage: flask_baseline.py BODY_JSON; prints the port it got.
"""
import json
import logging
import sys
import threading

from flask import Flask, jsonify
from werkzeug.serving import make_server

app = Flask(__name__)
_lock = threading.RLock()
_state = {"running": False, "pid": None}


@app.route("/api/test/status")
def status():
    with _lock:
        return jsonify(dict(_state))


def main():
    if len(sys.argv) > 1:
        _state.update(json.loads(sys.argv[1]))
    # No log line per request: stderr is a pipe nobody drains.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
