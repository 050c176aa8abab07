"""The strict API: kv, services, tests, errors, JSON values."""

import builtins
import threading

import pytest

import labrt


def test_kv_values_are_json(rt):
    kv = rt.kv
    value = {"a": [1, -2, 2**63, 1.5, None, True, "é"], "b": {"c": {}}}
    kv.set("doc", value)
    assert kv.get("doc") == value
    kv.set("tuple", (1, 2))
    assert kv.get("tuple") == [1, 2]
    assert kv.get("missing") is None
    assert kv.get("missing", {"d": 1}) == {"d": 1}
    with pytest.raises(TypeError):
        kv.set("x", object())
    with pytest.raises(TypeError):
        kv.set("x", {1: "int key"})
    with pytest.raises(ValueError):
        kv.set("x", 2**70)
    cycle = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        kv.set("x", cycle)
    assert "x" not in kv


def test_kv_revisions_and_conditional_writes(rt):
    kv = rt.kv
    entry = kv.fetch("n")
    assert (entry.value, entry.revision, entry.exists) == (None, 0, False)
    r1 = kv.set_if("n", 1, 0)
    value, revision = kv.fetch("n")
    assert (value, revision) == (1, r1)
    with pytest.raises(labrt.ConflictError) as info:
        kv.set_if("n", 2, revision + 100)
    assert info.value.code == "conflict"
    assert info.value.revision == revision
    assert isinstance(info.value, labrt.Error)
    kv.set_if("n", 3, labrt.ANY_REVISION)
    assert kv.get("n") == 3
    with pytest.raises(labrt.ConflictError):
        kv.set_if("absent", 1, labrt.ANY_REVISION)
    assert kv.erase_if("n", kv.fetch("n").revision) is True
    assert kv.erase("n") is False


def test_kv_patches(rt):
    kv = rt.kv
    kv.set("doc", {"a": 1, "b": 2})
    entry = kv.merge_patch("doc", {"b": None, "c": 3})
    assert entry.value == {"a": 1, "c": 3}
    entry = kv.json_patch("doc", [{"op": "replace", "path": "/a", "value": 10}])
    assert entry.value == {"a": 10, "c": 3}
    with pytest.raises(labrt.PatchFailedError) as info:
        kv.json_patch("doc", [{"op": "test", "path": "/a", "value": 0}])
    assert info.value.code == "patch_failed"
    with pytest.raises(labrt.ConflictError):
        kv.patch_if("doc", {"a": 0}, entry.revision + 1)
    assert kv.patch_if("doc", {"a": 0}, entry.revision).value["a"] == 0


def test_kv_collection_views(rt):
    kv = rt.new_kv()
    revision = kv.update({"b": 2, "a": 1})
    assert len(kv) == 2 and "a" in kv and kv.contains("b")
    assert kv.keys() == ["a", "b"]
    assert kv.values() == [1, 2]
    assert kv.items() == {"a": 1, "b": 2}
    snap = kv.snapshot()
    assert snap.revision == revision
    assert [e.key for e in snap.entries] == ["a", "b"]
    assert snap.items() == {"a": 1, "b": 2}
    with pytest.raises(labrt.KeyTooLongError):
        kv.update({"ok": 1, "k" * 1000: 2})
    assert len(kv) == 2 and "ok" not in kv
    kv.clear()
    assert len(kv) == 0
    assert [ev["key"] for ev in kv.history()] == ["a", "b", "a", "b"]
    assert kv.metrics()["writes"] >= 2


def test_errors_carry_their_code(rt):
    with pytest.raises(labrt.KeyTooLongError) as info:
        rt.kv.set("k" * 1000, 1)
    assert (info.value.code, info.value.value) == ("key_too_long", 3)
    assert str(info.value).startswith("key_too_long: ")
    with pytest.raises(labrt.ValueTooLargeError):
        rt.kv.set("big", "x" * (2 * 1024 * 1024))
    assert issubclass(labrt.TimeoutError, builtins.TimeoutError)
    assert issubclass(labrt.ForkError, labrt.ShuttingDownError)
    for cls in (labrt.InvalidArgumentError, labrt.NotFoundError, labrt.AlreadyRunningError):
        assert issubclass(cls, labrt.Error) and cls.code


def test_services(rt):
    s = rt.services
    assert s.get_all_status()["qsfp_service"] is False
    s.set_status("qsfp_service", True)
    assert s.is_service_running("qsfp_service") is True
    with pytest.raises(labrt.WrongTypeError):
        s.update_status({"sai_mono_link_test-sai_impl": True, "qsfp_service": "yes"})
    assert s.get_status("sai_mono_link_test-sai_impl") is False
    with pytest.raises(labrt.NotFoundError):
        s.describe("not_watched")
    assert s.records() == []
    own = rt.new_services()
    assert own.is_service_running("qsfp_service") is False


def test_test_execution_refuses_a_second_start(rt):
    t = rt.tests
    state = t.start_test("smoke.py", 4242, {"topology": "2x100G"})
    assert state["running"] is True and state["pid"] == 4242
    with pytest.raises(labrt.AlreadyRunningError) as info:
        t.start_test("other.py", 4343)
    assert info.value.code == "already_running"
    assert "smoke.py" in info.value.message
    assert t.get_topology() == "2x100G"
    assert t.stop_test()["running"] is False
    with pytest.raises(labrt.WrongTypeError):
        t.start_test("negative.py", -1)
    assert t.reset()["script"] is None
    assert t.update_state({"bin": "b"})["bin"] == "b"


def test_shutdown(rt):
    kv = rt.new_kv()
    kv.set("k", 1)
    rt.shutdown()
    rt.shutdown()
    assert rt.closed
    with pytest.raises(labrt.ShuttingDownError) as info:
        kv.get("k")
    assert info.value.code == "shutting_down"
    with pytest.raises(labrt.ShuttingDownError):
        rt.new_kv()


def test_a_runtime_may_be_dropped_on_another_thread():
    # The runtime goes with its last reference, on whichever thread drops it
    # (at interpreter exit, too): calls, an iterator and a callback here first.
    rt = labrt.Runtime()
    rt.kv.set("k", 1)
    with rt.kv.events() as events, rt.kv.subscribe(lambda event: None):
        rt.kv.set("k", 2)
        assert events.get(timeout=10)["new"] == 2
    holder = [rt]
    del rt, events
    dropper = threading.Thread(target=holder.clear, daemon=True)
    dropper.start()
    dropper.join(10)
    assert not dropper.is_alive()
    assert not holder


def test_default_runtime_is_one_per_process():
    assert labrt.runtime() is labrt.runtime()
    labrt.runtime().kv.set("default", True)
    assert labrt.runtime().kv.get("default") is True


def test_compat_objects_work_on_a_given_strict_object(rt):
    from labrt.compat import ServiceStatusManager, TestExecutionManager, ThreadSafeDict
    d = ThreadSafeDict({"a": 1}, store=rt.kv)
    assert rt.kv.get("a") == 1 and d.get("a") == 1
    ServiceStatusManager(manager=rt.services).set_status("qsfp_service", True)
    assert rt.services.is_service_running("qsfp_service")
    TestExecutionManager(manager=rt.tests).start_test("t.py", -5)
    assert rt.tests.get_state()["compat_pid"] == -5
    with pytest.raises(labrt.AlreadyRunningError):
        TestExecutionManager(start_timeout=0.1, manager=rt.tests).start_test("u.py", 1)
