"""The old utils.thread_safe_state API on labrt: change one import line.

    from labrt.compat import (ThreadSafeDict, ServiceStatusManager,
                              TestExecutionManager, get_service_status_manager,
                              get_test_execution_manager)

Names, arguments and return types are the old module's: None for what is
missing, bool for is_*, plain copies (dict, list) that do not write back.
Each instance has its own state, held by an actor of its own in the one
runtime of this process (labrt.runtime()); the getters return one instance
per process.

Two differences, both on purpose:

- Values are JSON: None, bool, int, float, str, lists and dicts with str
  keys (TypeError otherwise); keys are str.
- The old start_test overwrote a running test. Here a start while another
  test runs waits its turn: it starts as soon as that test stops, or raises
  labrt.AlreadyRunningError after `start_timeout` seconds (default 30;
  TestExecutionManager(start_timeout=...) or the attribute). So there is
  never more than one test at a time, and code that starts and then stops
  its own test, from any number of threads, runs each in turn.

After fork() the child gets new instances from the getters; objects made
before the fork raise labrt.ForkError there.

Remote mode, for apps of many processes: with LABRT_SERVER (and
LABRT_TOKEN) set, or after labrt.remote.connect(url, token=...), the
getters' managers are the daemon's, over its HTTP API, so every worker
process sees one service status and one test slot; ThreadSafeDict(name=...)
is the daemon's kv namespace "<name>/" (len, keys, items and clear cover the
namespace). An unnamed ThreadSafeDict, and managers made directly, stay in
this process. A remote start_test that waits asks the daemon when the slot
is free and tries again: it never holds a place in a queue.

Each class works on an object of the strict API (labrt.KvStore, ...; the
`store` and `manager` keywords), made by default in labrt.runtime(). A
backend that reaches a daemon over HTTP can hand in objects with the same
methods, and the getters the daemon's shared managers.
"""

import os
import threading
import time

import labrt
from labrt import remote

__all__ = ["ThreadSafeDict", "ServiceStatusManager", "TestExecutionManager",
           "get_service_status_manager", "get_test_execution_manager"]



class ThreadSafeDict:
    """A dict whose every operation is one message to its own kv actor."""

    def __init__(self, initial=None, *, name=None, store=None):
        if store is None and name is not None and remote.server() is not None:
            store = remote.RemoteKv(remote.server(), name)
        self._kv = store if store is not None else labrt.runtime().new_kv()
        if initial:
            self._kv.update(dict(initial))

    def get(self, key, default=None):
        if default is None:
            return self._kv.get(key)
        entry = self._kv.fetch(key)
        return entry.value if entry.exists else default

    def set(self, key, value):
        self._kv.set(key, value)

    def update(self, items):
        self._kv.update(dict(items))

    def delete(self, key):
        self._kv.erase(key)

    def copy(self):
        return self._kv.items()

    def keys(self):
        return self._kv.keys()

    def values(self):
        return self._kv.values()

    def items(self):
        return list(self._kv.items().items())

    def clear(self):
        self._kv.clear()

    def __contains__(self, key):
        return key in self._kv

    def __len__(self):
        return len(self._kv)


class ServiceStatusManager:
    """Service status entries; starts with the defaults (qsfp_service and
    sai_mono_link_test-sai_impl False, their _cmd entries None, and more)."""

    def __init__(self, *, manager=None):
        self._s = manager if manager is not None else labrt.runtime().new_services()

    def is_service_running(self, service_name):
        return self._s.is_service_running(service_name)

    def get_status(self, key):
        return self._s.get_status(key)

    def set_status(self, key, value):
        self._s.set_status(key, value)

    def update_status(self, updates):
        self._s.update_status(dict(updates))

    def get_all_status(self):
        return self._s.get_all_status()


def _strict_pid(pid):
    # The strict API records integers from 0 only; compat keeps whatever it got.
    ok = isinstance(pid, int) and not isinstance(pid, bool) and pid >= 0
    return pid if ok else None


def _to_strict(fields):
    fields = dict(fields)
    if "pid" in fields:
        fields["compat_pid"] = fields["pid"]
        fields["pid"] = _strict_pid(fields["pid"])
    return fields


class TestExecutionManager:
    """The test record. The pid is kept as given (any value, as the old
    module did) in the field compat_pid, which get_pid and get_state report
    as "pid"."""

    __test__ = False  # Not a pytest class, despite its name.

    def __init__(self, start_timeout=30.0, *, manager=None):
        self._t = manager if manager is not None else labrt.runtime().new_tests()
        self.start_timeout = start_timeout

    def is_running(self):
        return self._t.is_running()

    def get_pid(self):
        return self._t.get_field("compat_pid")

    def get_script(self):
        return self._t.get_script()

    def get_bin(self):
        return self._t.get_bin()

    def get_topology(self):
        return self._t.get_topology()

    def get_topology_file(self):
        return self._t.get_topology_file()

    def get_start_time(self):
        return self._t.get_start_time()

    def start_test(self, script, pid, bin=None, topology=None, topology_file=None,
                   **extra):
        """Records a start; waits while another test runs (see the module)."""
        fields = dict(extra, bin=bin, topology=topology, topology_file=topology_file,
                      compat_pid=pid)
        deadline = time.monotonic() + self.start_timeout
        events = None
        try:
            while True:
                try:
                    self._t.start_test(script, _strict_pid(pid), fields)
                    return
                except labrt.AlreadyRunningError:
                    if events is None:
                        # Follow the slot before trying again, so that a stop
                        # in between is not missed.
                        events = self._t.events()
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    events.get(timeout=left)
        finally:
            if events is not None:
                events.close()

    def stop_test(self):
        self._t.update_state({"running": False, "pid": None, "compat_pid": None})

    def reset(self):
        self._t.reset()

    def get_state(self):
        state = self._t.get_state()
        state["pid"] = state.pop("compat_pid", state.get("pid"))
        return state

    def update_state(self, updates):
        self._t.update_state(_to_strict(updates))


_singletons = {}
_singletons_lock = threading.Lock()


def _singleton(cls, remote_manager):
    instance = _singletons.get(cls)
    if instance is None:
        with _singletons_lock:
            instance = _singletons.get(cls)
            if instance is None:
                server = remote.server()
                instance = _singletons[cls] = (
                    cls(manager=remote_manager(server)) if server else cls())
    return instance


def get_service_status_manager():
    """This process's ServiceStatusManager: the daemon's in remote mode."""
    return _singleton(ServiceStatusManager, remote.RemoteServices)


def get_test_execution_manager():
    """This process's TestExecutionManager: the daemon's in remote mode."""
    return _singleton(TestExecutionManager, remote.RemoteTests)


def _after_fork_in_child():
    global _singletons_lock
    _singletons.clear()
    _singletons_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
