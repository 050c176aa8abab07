"""labrt in Python: the embedded runtime's strict API, and labrt.compat for
code written against the old thread_safe_state module (docs/python.md).

    import labrt
    rt = labrt.runtime()          # this process's runtime, made on first use
    rt.kv.set("counter", 1)
    value, revision = rt.kv.fetch("counter")
    rt.kv.set_if("counter", value + 1, revision)   # ConflictError if stale

Every call is a message to an actor; it releases the GIL while it waits, and
Ctrl-C interrupts it. Errors are labrt.Error subclasses with the errc `code`.

The objects a runtime hands out (Runtime.kv, .services, .tests, .runner,
.monitor, .new_kv() ...) are the API; a backend that reaches a daemon over
HTTP can hand out objects with the same methods, and labrt.runtime() is the
one place that chooses.
"""

import atexit
import os
import threading

from . import _native
from ._errors import *  # noqa: F401,F403
from ._errors import Error, ForkError  # noqa: F401
from ._native import (ANY_REVISION, Entry, EventIterator, KvStore, Monitor,  # noqa: F401
                      Runner, Runtime, ServiceStatus, Snapshot, Subscription,
                      TestExecution)

_default = None
_default_lock = threading.Lock()


def runtime():
    """This process's runtime, made with the defaults on first use (and
    again in a child after fork())."""
    global _default
    rt = _default
    if rt is None:
        with _default_lock:
            if _default is None:
                _default = Runtime()
            rt = _default
    return rt


def _after_fork_in_child():
    # The parent's runtime has no threads here; its objects raise ForkError.
    global _default, _default_lock
    _default = None
    _default_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
# Before Python tears itself down: no actor may call into it afterwards.
atexit.register(_native.shutdown_all)
