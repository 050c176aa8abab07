"""Ctrl-C interrupts a call that waits on an actor."""

import signal
import stat
import sys
import threading
import time

import pytest

import labrt
from labrt import _native


def interrupt_inside(call, name):
    """Runs call() in the main thread and sends it SIGINT once it is inside
    the native method `name`: a profile hook sees the C call begin, and no
    bytecode runs between that and the method, so the signal cannot be
    handled before it. Returns the seconds until KeyboardInterrupt."""
    assert threading.current_thread() is threading.main_thread()
    entered = threading.Event()

    def profile(frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", None) == name:
            entered.set()

    def sender():
        if entered.wait(30):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    thread = threading.Thread(target=sender)
    thread.start()
    start = time.monotonic()
    sys.setprofile(profile)
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
    finally:
        sys.setprofile(None)
        thread.join()
    assert entered.is_set()
    return time.monotonic() - start


def test_ctrl_c_interrupts_runner_wait(rt, tmp_path):
    path = tmp_path / "long.sh"
    path.write_text("#!/bin/sh\nexec sleep 60\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    run = rt.runner.start(str(path))
    before = _native.interrupted_waits()
    took = interrupt_inside(lambda: rt.runner.wait(run["run_id"], timeout=60), "wait")
    assert took < 10
    assert _native.interrupted_waits() == before + 1
    # The runtime is fine afterwards, and the run still there to stop.
    assert rt.runner.status()["run_id"] == run["run_id"]
    assert rt.runner.stop()["stopped_by"] == "request"


def test_ctrl_c_interrupts_an_event_iterator(rt):
    events = rt.new_kv().events()
    before = _native.interrupted_waits()
    took = interrupt_inside(lambda: events.get(timeout=60), "get")
    assert took < 10
    assert _native.interrupted_waits() == before + 1
    rt.kv.set("after", 1)
    assert rt.kv.get("after") == 1
