"""examples/flask_app under gunicorn with 4 workers against a real daemon:
every worker sees one test slot, so concurrent starts give exactly one test,
which the old app (a dict per worker) could not."""

import concurrent.futures
import json
import os
import shutil
import sys
import urllib.error
import urllib.request

import pytest

from conftest import started
from test_remote import daemon  # noqa: F401 (the fixture)

APP_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "flask_app")


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture
def app(daemon, tmp_path):  # noqa: F811
    gunicorn = shutil.which("gunicorn")
    if not gunicorn:
        pytest.fail("needs gunicorn (Debian: gunicorn; scripts/bootstrap)")
    scripts = tmp_path / "tests"
    scripts.mkdir()
    script = scripts / "link_test.sh"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    env = dict(os.environ, LABRT_SERVER=daemon, LAB_SCRIPTS=str(scripts),
               PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                        APP_DIR])))
    # Requests wait in the listen queue until a worker takes them.
    proc, url = started([sys.executable, gunicorn, "-w", "4", "-b", "127.0.0.1:0",
                         "--chdir", APP_DIR, "app:app"], "Listening at: ", env=env)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_workers_share_one_test_slot(app, daemon):  # noqa: F811
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda i: call(app + "/api/test/start", "POST",
                           {"script": "link_test.sh", "bin": "sai", "topology": f"t{i}"}),
            range(8)))
    started = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status == 409]
    assert len(started) == 1, answers
    assert len(refused) == 7, answers
    pid = started[0]["pid"]
    assert isinstance(pid, int) and pid > 0
    # Every worker answers the same state.
    for _ in range(20):
        status, state = call(app + "/api/test/status")
        assert status == 200
        assert state["running"] is True and state["pid"] == pid
    status, _ = call(app + "/api/test/stop", "POST")
    assert status == 200
    # The worker that started it frees the slot when the script has ended.
    status, state = call(daemon + "/api/test/status/idle?wait_ms=20000")
    assert status == 200 and state["running"] is False
    status, body = call(app + "/api/test/start", "POST", {"script": "link_test.sh"})
    assert status == 201
    call(app + "/api/test/stop", "POST")


def test_bad_scripts_are_refused_and_take_nothing(app):
    for name in ("../../etc/passwd", "missing.sh", ""):
        status, _ = call(app + "/api/test/start", "POST", {"script": name})
        assert status == 400
    assert call(app + "/api/test/status")[1]["running"] is False
