"""Change events: as an iterator and as a callback on a thread of its own."""

import queue
import threading

import pytest

import labrt


def test_iterator_yields_changes_in_order(rt):
    kv = rt.new_kv()
    with kv.events() as events:
        kv.set("a", 1)
        kv.set("a", 2)
        kv.erase("a")
        got = [events.get(timeout=10) for _ in range(3)]
    assert [(e["key"], e["old"], e["new"]) for e in got] == [
        ("a", None, 1), ("a", 1, 2), ("a", 2, None)]
    assert [e["revision"] for e in got] == [1, 2, 3]
    assert all(e["source"] == "kv" for e in got)


def test_iterator_replays_history_and_ends_after_its_timeout(rt):
    kv = rt.new_kv()
    kv.set("a", 1)
    kv.set("b", 2)
    assert [e["key"] for e in kv.events(since=0, timeout=0.2)] == ["a", "b"]
    assert [e["key"] for e in kv.events(since=1, timeout=0.2)] == ["b"]
    assert list(kv.events(timeout=0.1)) == []


def test_iterator_of_each_manager(rt):
    with rt.services.events() as s, rt.tests.events() as t:
        rt.services.set_status("qsfp_service", True)
        rt.tests.start_test("x.py", 1)
        assert s.get(timeout=10)["source"] == "service"
        assert {t.get(timeout=10)["key"] for _ in range(3)} <= {
            "running", "script", "pid", "start_time"}


def test_iterator_ends_when_the_runtime_stops(rt):
    events = rt.kv.events()
    rt.shutdown()
    assert events.get(timeout=10) is None


def test_callback_gets_every_change_and_may_call_labrt(rt):
    kv = rt.new_kv()
    seen = queue.Queue()

    def on_change(event):
        # Calling the store from the callback must not deadlock.
        seen.put((event["key"], event["new"], kv.get(event["key"])))

    sub = kv.subscribe(on_change)
    for i in range(5):
        kv.set("k", i)
    got = [seen.get(timeout=10) for _ in range(5)]
    sub.close()
    assert sub.closed
    assert [g[1] for g in got] == [0, 1, 2, 3, 4]
    assert all(g[0] == "k" for g in got)
    kv.set("k", 99)
    with pytest.raises(queue.Empty):
        # Closed: no callback, now or later (close waits for the last one).
        seen.get_nowait()


# The failing callback's exception is reported as unraisable, on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_callback_runs_on_another_thread_and_survives_its_exceptions(rt):
    kv = rt.new_kv()
    threads = queue.Queue()

    def on_change(event):
        threads.put(threading.get_ident())
        if event["new"] == "boom":
            raise RuntimeError("a failing callback")

    with kv.subscribe(on_change, since=0):
        kv.set("k", "boom")
        kv.set("k", "after")
        first = threads.get(timeout=10)
        second = threads.get(timeout=10)
    assert first == second != threading.get_ident()


def test_callback_may_close_its_own_subscription(rt):
    kv = rt.new_kv()
    done = threading.Event()
    holder = {}

    def on_change(event):
        holder["sub"].close()
        done.set()

    holder["sub"] = kv.subscribe(on_change)
    kv.set("k", 1)
    assert done.wait(10)
    assert holder["sub"].closed
