"""The runner and the monitor through the strict API."""

import stat
import threading

import pytest

import labrt


@pytest.fixture
def script(tmp_path):
    def make(name, body):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return str(path)
    return make


def test_start_wait_history(rt, script):
    path = script("ok.sh", "echo hello\nexit 3\n")
    run = rt.runner.start(path, args=["a"], bin="sai_impl")
    assert run["state"] in ("running", "finished") and run["pid"] > 0
    final = rt.runner.wait(run["run_id"], timeout=30)
    assert final["state"] == "finished" and final["exit_code"] == 3
    assert final["out_bytes"] == len("hello\n")
    assert rt.runner.history()[0]["run_id"] == run["run_id"]
    assert rt.runner.get(run["run_id"])["args"] == ["a"]
    with pytest.raises(labrt.NotRunningError):
        rt.runner.status()


def test_one_run_at_a_time_queue_and_stop(rt, script):
    long = script("long.sh", "exec sleep 60\n")
    first = rt.runner.start(long)
    with pytest.raises(labrt.AlreadyRunningError):
        rt.runner.start(long)
    queued = rt.runner.enqueue(long)
    assert [r["run_id"] for r in rt.runner.queue()] == [queued["run_id"]]
    assert rt.runner.cancel(queued["run_id"])["state"] == "cancelled"
    assert rt.runner.status()["run_id"] == first["run_id"]
    stopped = rt.runner.stop(by="test")
    assert stopped["stopped_by"] == "test" and stopped["signal"]["name"] == "SIGTERM"
    with pytest.raises(labrt.TimeoutError):
        rt.runner.wait(rt.runner.start(long)["run_id"], timeout=0.1)
    rt.runner.stop()


def test_a_waiting_call_leaves_the_gil_to_other_threads(rt, script):
    run = rt.runner.start(script("long.sh", "exec sleep 60\n"))
    result = {}

    def waiter():
        result["final"] = rt.runner.wait(run["run_id"], timeout=60)

    thread = threading.Thread(target=waiter)
    thread.start()
    # Held by the waiter, the GIL would stop this thread until the run ends.
    for i in range(200):
        rt.kv.set("k", i)
    assert rt.kv.get("k") == 199
    assert thread.is_alive()
    rt.runner.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert result["final"]["stopped_by"] == "request"


def test_bad_specs_are_refused(rt, script):
    with pytest.raises(labrt.InvalidArgumentError):
        rt.runner.start(script("x.sh", "true\n"), no_such_field=1)
    with pytest.raises(labrt.NotFoundError):
        rt.runner.start("/nonexistent/script.sh")
    closed = labrt.Runtime(runner=False)
    with pytest.raises(labrt.NotFoundError):
        closed.runner.history()
    closed.shutdown()


def test_monitor(rt):
    name = "labrt-pytest-no-such-process"
    assert rt.monitor.add(name, comm="no-such-comm") is True
    assert rt.monitor.rules() == [{"name": name, "match": {"comm": "no-such-comm"}}]
    assert rt.services.describe(name)["running"] is False
    assert [r["name"] for r in rt.monitor.scan()] == [name]
    assert rt.monitor.remove(name) is True
    assert rt.monitor.rules() == []
    with pytest.raises(labrt.InvalidArgumentError):
        rt.monitor.add("bad", cmdline="(")
    with pytest.raises(labrt.InvalidArgumentError):
        rt.monitor.add("none")
