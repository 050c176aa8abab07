"""Remote mode against a real daemon (labctl serve on 127.0.0.1): the old
suite's 22 cases with its managers backed by the daemon, and what several
processes sharing one daemon must see."""

import json
import os
import signal
import socket
import tempfile
import threading
import time

import pytest

import labrt
import labrt.compat as compat
from labrt import remote

import test_compat
from conftest import run_all, spawn, started
from test_compat import *  # noqa: F401,F403 (the old suite, run here again)

LABCTL = os.environ.get("LABRT_LABCTL")


@pytest.fixture
def daemon():
    """A daemon of the test's own; its URL."""
    if not LABCTL:
        pytest.fail("LABRT_LABCTL names no labctl (ctest sets it)")
    with tempfile.TemporaryDirectory() as d:
        config = os.path.join(d, "lab.json")
        with open(config, "w") as f:
            json.dump({"runner": {"roots": [d]},
                       "http": {"listen": "127.0.0.1:0"}}, f)
        proc, url = started([LABCTL, "serve", "--config", config], " serving on ")
        try:
            yield url
        finally:
            proc.terminate()
            assert proc.wait(timeout=20) == 0


@pytest.fixture(autouse=True)
def remote_managers(daemon, monkeypatch):
    """The old suite's managers, and compat's getters, on the daemon."""
    server = remote.connect(daemon)
    names = iter(range(1000))
    monkeypatch.setattr(test_compat, "ThreadSafeDict", lambda initial=None: compat.ThreadSafeDict(
        initial, store=remote.RemoteKv(server, f"dict{next(names)}")))
    monkeypatch.setattr(test_compat, "ServiceStatusManager", lambda: compat.ServiceStatusManager(
        manager=remote.RemoteServices(server)))
    monkeypatch.setattr(test_compat, "TestExecutionManager", lambda: compat.TestExecutionManager(
        manager=remote.RemoteTests(server)))
    compat._singletons.clear()
    yield server
    server.close()
    compat._singletons.clear()
    remote._server = None


def test_the_getters_are_the_daemons(remote_managers):
    assert isinstance(compat.get_test_execution_manager()._t, remote.RemoteTests)
    compat.get_service_status_manager().set_status("qsfp_service", True)
    assert remote_managers.call("GET", "/api/status/qsfp_service") is True
    named = compat.ThreadSafeDict(name="sessions")
    named.set("a", 1)
    assert remote_managers.call("GET", "/api/kv/sessions%2Fa")["value"] == 1
    assert isinstance(compat.ThreadSafeDict()._kv, labrt.KvStore)


def test_errors_carry_the_daemons_code(remote_managers):
    tests = remote.RemoteTests(remote_managers)
    tests.start_test("a.py", 1)
    with pytest.raises(labrt.AlreadyRunningError) as err:
        tests.start_test("b.py", 2)
    assert err.value.code == "already_running"
    assert "a.py" in str(err.value)
    kv = remote.RemoteKv(remote_managers, "ns")
    rev = kv.set("k", 1)
    with pytest.raises(labrt.ConflictError) as err:
        kv.set_if("k", 2, rev + 5)
    assert err.value.revision == rev


def _count_with_set_if(url, key, n):
    kv = remote.RemoteKv(remote.Server(url), "shared")
    threads = []

    def work():
        for _ in range(n):
            while True:
                entry = kv.fetch(key)
                try:
                    kv.set_if(key, entry.value + 1, entry.revision)
                    break
                except labrt.ConflictError:
                    pass

    for _ in range(4):
        threads.append(threading.Thread(target=work))
        threads[-1].start()
    for t in threads:
        t.join()


def test_revision_checked_increments_from_processes_lose_nothing(daemon):
    kv = remote.RemoteKv(remote.Server(daemon), "shared")
    kv.set_if("n", 0, 0)
    run_all(_count_with_set_if, [(daemon, "n", 10)] * 4)
    assert kv.get("n") == 4 * 4 * 10


def _take_turns(url, me, rounds, done):
    os.environ["LABRT_SERVER"] = url
    m = compat.get_test_execution_manager()
    for i in range(rounds):
        m.start_test(f"p{me}.py", me * 1000 + i)
        # Nobody else holds the slot while this process does.
        assert m.get_script() == f"p{me}.py"
        assert m.get_pid() == me * 1000 + i
        m.stop_test()
        with done.get_lock():
            done.value += 1


def test_processes_racing_start_test_take_turns(daemon):
    done = spawn.Value("i", 0)
    run_all(_take_turns, [(daemon, me, 5, done) for me in range(4)])
    assert done.value == 20
    assert remote.RemoteTests(remote.Server(daemon)).is_running() is False


def _set_one(url):
    remote.RemoteServices(remote.Server(url)).set_status("qsfp_service", True)


def test_a_status_set_in_one_process_is_seen_in_another(daemon):
    run_all(_set_one, [(daemon,)])
    assert remote.RemoteServices(remote.Server(daemon)).is_service_running("qsfp_service")


def test_ctrl_c_interrupts_a_start_that_waits(remote_managers):
    holder = remote.RemoteTests(remote_managers)
    holder.start_test("holder.py", 1)
    m = compat.TestExecutionManager(manager=remote.RemoteTests(remote_managers),
                                    start_timeout=60)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        m.start_test("waiter.py", 2)
    assert time.monotonic() - t0 < 10
    # It took nothing: the holder still holds the slot.
    assert holder.get_script() == "holder.py"


def test_update_sets_every_key_in_one_step(remote_managers):
    kv = remote.RemoteKv(remote_managers, "pair")
    kv.update({"a": 0, "b": 0})
    stop = threading.Event()

    def write():
        for i in range(1, 200):
            kv.update({"a": i, "b": i})
        stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    while not stop.is_set():
        items = kv.items()
        assert items["a"] == items["b"], items
        seen += 1
    writer.join()
    assert kv.items() == {"a": 199, "b": 199}
    assert seen > 0
    with pytest.raises(TypeError):
        kv.update({1: "not a str key"})
    assert kv.items() == {"a": 199, "b": 199}


def test_a_dead_connection_is_replaced(remote_managers):
    kv = remote.RemoteKv(remote_managers, "conn")
    kv.set("k", 1)
    first = remote_managers._local.conn
    first.sock.shutdown(socket.SHUT_RDWR)
    assert kv.get("k") == 1
    assert remote_managers._local.conn is not first


def test_a_forked_child_makes_its_own_connection(remote_managers):
    kv = remote.RemoteKv(remote_managers, "fork")
    kv.set("k", "parent")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            kv.set("k", "child")
            code = 0 if kv.get("k") == "child" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection was not disturbed by the child's traffic.
    assert kv.get("k") == "child"
    kv.set("k", "parent again")
    assert kv.get("k") == "parent again"
