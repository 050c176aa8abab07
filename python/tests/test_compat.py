"""The old thread_safe_state suite, 22 cases, with only its import changed."""

import threading

from labrt.compat import (ServiceStatusManager, TestExecutionManager, ThreadSafeDict,
                          get_service_status_manager, get_test_execution_manager)


# -- ThreadSafeDict -----------------------------------------------------------

def test_dict_starts_empty():
    d = ThreadSafeDict()
    assert len(d) == 0
    assert d.copy() == {}


def test_dict_initial_values():
    d = ThreadSafeDict({"a": 1, "b": "two"})
    assert d.get("a") == 1
    assert d.get("b") == "two"
    assert len(d) == 2


def test_dict_get_and_set():
    d = ThreadSafeDict()
    d.set("key", {"nested": [1, 2, 3]})
    assert d.get("key") == {"nested": [1, 2, 3]}
    d.set("key", "replaced")
    assert d.get("key") == "replaced"


def test_dict_get_missing_returns_default():
    d = ThreadSafeDict()
    assert d.get("missing") is None
    assert d.get("missing", "fallback") == "fallback"


def test_dict_update():
    d = ThreadSafeDict({"a": 1})
    d.update({"b": 2, "c": 3})
    assert d.copy() == {"a": 1, "b": 2, "c": 3}


def test_dict_delete():
    d = ThreadSafeDict({"a": 1, "b": 2})
    d.delete("a")
    assert "a" not in d
    assert d.get("a") is None
    d.delete("never-there")
    assert len(d) == 1


def test_dict_contains_and_len():
    d = ThreadSafeDict()
    assert "x" not in d
    d.set("x", 0)
    assert "x" in d
    assert len(d) == 1


def test_dict_keys_values_items():
    d = ThreadSafeDict({"a": 1, "b": 2})
    assert sorted(d.keys()) == ["a", "b"]
    assert sorted(d.values()) == [1, 2]
    assert sorted(d.items()) == [("a", 1), ("b", 2)]
    assert isinstance(d.keys(), list) and isinstance(d.items(), list)


def test_dict_copy_does_not_write_back():
    d = ThreadSafeDict({"a": 1})
    snapshot = d.copy()
    snapshot["a"] = 99
    snapshot["b"] = 2
    assert d.get("a") == 1
    assert "b" not in d


def test_dict_clear():
    d = ThreadSafeDict({"a": 1, "b": 2})
    d.clear()
    assert len(d) == 0
    assert d.copy() == {}


def test_dicts_are_independent():
    first = ThreadSafeDict()
    second = ThreadSafeDict()
    first.set("k", 1)
    assert "k" not in second


# -- ServiceStatusManager -------------------------------------------------------

def test_service_defaults():
    m = ServiceStatusManager()
    status = m.get_all_status()
    assert status["qsfp_service"] is False
    assert status["sai_mono_link_test-sai_impl"] is False
    assert status["qsfp_service_cmd"] is None
    assert status["sai_mono_link_test-sai_impl_cmd"] is None


def test_service_set_and_get_status():
    m = ServiceStatusManager()
    m.set_status("qsfp_service", True)
    assert m.is_service_running("qsfp_service") is True
    assert m.get_status("qsfp_service") is True
    m.set_status("qsfp_service_cmd", "/usr/bin/qsfp_service --x")
    assert m.get_status("qsfp_service_cmd") == "/usr/bin/qsfp_service --x"
    assert m.get_status("unknown") is None
    assert m.is_service_running("unknown") is False


def test_service_update_status_and_copy():
    m = ServiceStatusManager()
    m.update_status({"qsfp_service": True, "sai_mono_link_test-sai_impl": True})
    status = m.get_all_status()
    assert status["qsfp_service"] is True
    assert status["sai_mono_link_test-sai_impl"] is True
    status["qsfp_service"] = False
    assert m.is_service_running("qsfp_service") is True


# -- TestExecutionManager -------------------------------------------------------

def test_execution_initial_state():
    m = TestExecutionManager()
    assert m.is_running() is False
    for getter in (m.get_pid, m.get_script, m.get_bin, m.get_topology,
                   m.get_start_time):
        assert getter() is None
    assert m.get_state()["running"] is False


def test_execution_start_and_stop():
    m = TestExecutionManager()
    m.start_test("link_test.py", 4242, bin="sai_impl", topology="2x100G")
    assert m.is_running() is True
    assert m.get_pid() == 4242
    assert m.get_script() == "link_test.py"
    assert m.get_bin() == "sai_impl"
    assert m.get_topology() == "2x100G"
    assert m.get_start_time() is not None
    m.stop_test()
    assert m.is_running() is False
    assert m.get_pid() is None


def test_execution_get_state_is_a_copy():
    m = TestExecutionManager()
    m.start_test("a.py", 0)
    state = m.get_state()
    assert state["running"] is True and state["pid"] == 0 and state["script"] == "a.py"
    state["script"] = "changed"
    assert m.get_script() == "a.py"
    assert m.get_pid() == 0


def test_execution_reset_and_update_state():
    m = TestExecutionManager()
    m.start_test("a.py", 1)
    m.update_state({"topology": "4x25G"})
    assert m.get_topology() == "4x25G"
    m.reset()
    assert m.is_running() is False
    assert m.get_script() is None


# -- singletons -----------------------------------------------------------------

def test_singletons():
    assert get_service_status_manager() is get_service_status_manager()
    assert get_test_execution_manager() is get_test_execution_manager()
    get_service_status_manager().set_status("qsfp_service_cmd", "seen")
    assert get_service_status_manager().get_status("qsfp_service_cmd") == "seen"
    get_test_execution_manager().start_test("singleton.py", 7)
    assert get_test_execution_manager().get_pid() == 7
    get_test_execution_manager().stop_test()
    assert get_test_execution_manager().is_running() is False


# -- threads ---------------------------------------------------------------------

def run_threads(targets):
    errors = []

    def guarded(fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    assert errors == []


def test_concurrent_dict_writers_and_readers():
    d = ThreadSafeDict()
    seen = []

    def writer(n):
        for i in range(100):
            d.set(f"w{n}_k{i}", i)

    def reader():
        for _ in range(100):
            seen.append(len(d.copy()))

    run_threads([(writer, n) for n in range(5)] + [(reader,) for _ in range(5)])
    assert len(d) == 500
    assert all(d.get(f"w{n}_k{i}") == i for n in range(5) for i in range(100))
    assert all(0 <= s <= 500 for s in seen)


def test_concurrent_service_toggles():
    m = ServiceStatusManager()
    toggles = []

    def toggle(n):
        for i in range(50):
            m.set_status("qsfp_service", i % 2 == 0)
            toggles.append(m.is_service_running("qsfp_service") in (True, False))

    run_threads([(toggle, n) for n in range(3)])
    assert len(toggles) == 150 and all(toggles)
    assert m.get_status("qsfp_service") in (True, False)


def test_concurrent_start_stop():
    m = TestExecutionManager()
    completions = []

    def cycle(thread_id):
        for i in range(20):
            pid = thread_id * 1000 + i
            m.start_test(f"test_{thread_id}_{i}.py", pid)
            assert m.get_pid() == pid  # nobody else's test meanwhile
            m.stop_test()
            completions.append(pid)

    run_threads([(cycle, n) for n in range(3)])
    assert len(completions) == 60
    assert 0 in completions
    assert m.is_running() is False
