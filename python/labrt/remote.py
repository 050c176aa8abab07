"""The daemon's managers over its HTTP API, for apps of many processes.

    import labrt.remote
    server = labrt.remote.connect("http://127.0.0.1:8080", token="...")

or LABRT_SERVER (and LABRT_TOKEN) in the environment: labrt.compat's
getters then hand out managers backed by the daemon, so every worker process
of a web app (gunicorn's, say) sees one service status and one test slot,
and ThreadSafeDict(name="...") is the daemon's kv namespace "<name>/".

The classes have the methods labrt.compat calls on the embedded strict API
(KvStore, ServiceStatus, TestExecution), with the same errors: labrt.Error
subclasses carrying the daemon's error code. Only the standard library is
used, one keep-alive connection per thread (labrt._http).
"""

import json
import os
import threading
import urllib.parse

from . import _errors, _http

__all__ = ["Server", "connect", "server", "RemoteKv", "RemoteServices",
           "RemoteTests"]

# The daemon's HTTP error codes that are no errc name.
_HTTP_CODES = {"precondition_failed": _errors.ConflictError}


def _error_class(code):
    for cls in _errors.BY_VALUE.values():
        if cls.code == code:
            return cls
    return _HTTP_CODES.get(code, _errors.Error)


class Server:
    """One daemon: its URL, its token and a per-call timeout (seconds).

    Each thread keeps one keep-alive connection (a new TCP connection per
    call costs more than the call). A connection made before a fork() is
    not used in the child: it would share the socket with its parent."""

    def __init__(self, url, token=None, timeout=30.0):
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"a daemon's URL is http://HOST:PORT, not {url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._base = parts.path
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self):
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = _http.Connection(self._host, self._port)
            local.conn, local.pid = conn, os.getpid()
        return conn

    def close(self):
        """Closes this thread's connection (the next call opens another)."""
        self._drop_connection()

    def _drop_connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _exchange(self, method, path, data, headers, timeout):
        """(status, body) of one request on this thread's connection. A
        connection the daemon closed while it was idle fails before the
        daemon has read anything, so that request is sent again, once, on a
        new connection."""
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                return conn.exchange(method, self._base + path, data, headers,
                                     timeout)
            except (_http.Closed, ConnectionResetError, BrokenPipeError):
                self._drop_connection()
                if not reused or attempt == 2:
                    raise
            except BaseException:
                # Ctrl-C or a timeout mid-exchange: its answer may still come.
                self._drop_connection()
                raise

    def call(self, method, path, body=None, missing=None, timeout=None,
             headers=None):
        """The JSON answer of one request. A 404 answers `missing` when that
        is not None; other failures raise the daemon's error."""
        data = None if body is None else json.dumps(body).encode()
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            status, raw = self._exchange(method, path, data, headers,
                                         timeout or self.timeout)
        except OSError as e:
            raise _errors.ShuttingDownError(
                f"no answer from {self.url}: {e}") from None
        if status >= 400:
            if status == 404 and missing is not None:
                return missing
            try:
                err = json.loads(raw or b"{}")
            except ValueError:
                err = {}
            cls = _error_class(err.get("code"))
            raise cls(err.get("error", f"HTTP {status}"),
                      err.get("revision", 0)) from None
        return json.loads(raw) if raw else None


def _quote(text):
    return urllib.parse.quote(text, safe="")


class _Missing:
    pass


_MISSING = _Missing()


class Entry:
    """A kv value with its revision, as KvStore.fetch answers."""

    def __init__(self, value, revision, exists):
        self.value, self.revision, self.exists = value, revision, exists


class RemoteKv:
    """The daemon's kv keys under "<name>/": a namespace of its own."""

    def __init__(self, server, name):
        if not name:
            raise ValueError("a remote ThreadSafeDict needs a name")
        self._s = server
        self.prefix = name + "/"

    def _path(self, key):
        if not isinstance(key, str):
            raise TypeError(f"keys are str, not {type(key).__name__}")
        return "/api/kv/" + _quote(self.prefix + key)

    def fetch(self, key):
        entry = self._s.call("GET", self._path(key), missing=_MISSING)
        if entry is _MISSING:
            return Entry(None, 0, False)
        return Entry(entry["value"], entry["revision"], True)

    def get(self, key):
        return self.fetch(key).value

    def set(self, key, value):
        return self._s.call("PUT", self._path(key), value)["revision"]

    def set_if(self, key, value, revision):
        """Sets `key` only if its revision is `revision` (0: only if absent);
        else labrt.ConflictError carrying the current revision."""
        cond = ({"If-None-Match": "*"} if revision == 0
                else {"If-Match": f'"{revision}"'})
        return self._s.call("PUT", self._path(key), value,
                            headers=cond)["revision"]

    def update(self, items):
        """Sets every key of `items` in one step."""
        body = {}
        for key, value in dict(items).items():
            self._path(key)  # the same key check as set()
            body[self.prefix + key] = value
        return self._s.call("PATCH", "/api/kv", body)["revision"]

    def erase(self, key):
        return self._s.call("DELETE", self._path(key), missing=False) is not False

    def items(self):
        snap = self._s.call("GET", "/api/kv?prefix=" + _quote(self.prefix))
        n = len(self.prefix)
        return {e["key"][n:]: e["value"] for e in snap["entries"]}

    def keys(self):
        return list(self.items().keys())

    def values(self):
        return list(self.items().values())

    def clear(self):
        return self._s.call("DELETE", "/api/kv?prefix=" + _quote(self.prefix))

    def __contains__(self, key):
        return self.fetch(key).exists

    def __len__(self):
        return len(self.items())


class RemoteServices:
    """The daemon's service status entries."""

    def __init__(self, server):
        self._s = server

    def get_status(self, key):
        return self._s.call("GET", "/api/status/" + _quote(key))

    def is_service_running(self, name):
        return bool(self.get_status(name))

    def set_status(self, key, value):
        return self._s.call("PUT", "/api/status/" + _quote(key), value)["revision"]

    def update_status(self, updates):
        return self._s.call("PATCH", "/api/status", dict(updates))["revision"]

    def get_all_status(self):
        return self._s.call("GET", "/api/status")


class _SlotWaiter:
    """What compat's start_test waits on between tries: the slot coming
    free, which the daemon reports without taking it."""

    def __init__(self, server):
        self._s = server

    def get(self, timeout):
        ms = max(0, min(int(timeout * 1000), 60000))
        self._s.call("GET", f"/api/test/status/idle?wait_ms={ms}",
                     timeout=ms / 1000 + self._s.timeout)

    def close(self):
        pass


class RemoteTests:
    """The daemon's test record and its one test slot."""

    def __init__(self, server):
        self._s = server

    def get_state(self):
        return self._s.call("GET", "/api/test/status")

    def is_running(self):
        return bool(self.get_state().get("running"))

    def get_field(self, field):
        return self.get_state().get(field)

    def get_script(self):
        return self.get_field("script")

    def get_bin(self):
        return self.get_field("bin")

    def get_topology(self):
        return self.get_field("topology")

    def get_topology_file(self):
        return self.get_field("topology_file")

    def get_start_time(self):
        return self.get_field("start_time")

    def start_test(self, script, pid, fields=None):
        body = dict(fields or {}, script=script, pid=pid)
        return self._s.call("POST", "/api/test/status/start", body)

    def events(self):
        return _SlotWaiter(self._s)

    def update_state(self, fields):
        return self._s.call("PATCH", "/api/test/status", dict(fields))

    def reset(self):
        return self._s.call("POST", "/api/test/status/reset")


_server = None
_server_lock = threading.Lock()


def connect(url, token=None, timeout=30.0):
    """Makes `url` this process's daemon: compat's getters and named
    ThreadSafeDicts made from now on use it."""
    global _server
    with _server_lock:
        _server = Server(url, token, timeout)
    return _server


def server():
    """This process's daemon: connect()'s, else LABRT_SERVER's; None when
    neither is set (compat then embeds a runtime)."""
    global _server
    if _server is None and os.environ.get("LABRT_SERVER"):
        with _server_lock:
            if _server is None:
                _server = Server(os.environ["LABRT_SERVER"],
                                 os.environ.get("LABRT_TOKEN"))
    return _server

