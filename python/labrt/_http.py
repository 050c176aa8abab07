"""One keep-alive HTTP/1.1 connection to a daemon, for labrt.remote.

http.client parses every response's headers with the email package, which
costs a loopback call more than the daemon takes to answer it. The daemon's
JSON answers need much less: a status, Content-Length or chunks, and whether
the connection stays open.
"""

import re
import socket

__all__ = ["Closed", "Connection"]

# No control characters or spaces in a request target, none but tab in a
# header value: either would let a caller's text write its own header.
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MAX_HEAD = 64 * 1024


class Closed(ConnectionError):
    """The daemon closed the connection before any byte of its answer: it
    may have closed it while idle, so the request can be sent again."""


class Connection:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = None
        self._buf = bytearray()
        self._answered = False

    def connect(self, timeout):
        self.sock = socket.create_connection((self.host, self.port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, method, target, body, headers, timeout):
        """(status, body) of one request, on a new connection unless one is
        open; it stays open unless the daemon says it closes."""
        if _BAD_TARGET.search(target):
            raise ValueError(f"a request target without spaces or control "
                             f"characters, not {target!r}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{self.port}"]
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"not a header name: {name!r}")
            if _BAD_VALUE.search(str(value)):
                raise ValueError(f"header {name}: control characters in its value")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        if self.sock is None:
            self.connect(timeout)
        self.sock.settimeout(timeout)
        self._answered = False
        self.sock.sendall(request)  # One send: headers and body in one segment.
        status, fields = self._head()
        while 100 <= status < 200:  # Interim answers: the final one follows.
            status, fields = self._head()
        if method == "HEAD" or status in (204, 304):
            data = b""
        elif "chunked" in fields.get("transfer-encoding", ""):
            data = self._chunks()
        elif "content-length" in fields:
            data = self._take(int(fields["content-length"]))
        else:  # The body runs to the connection's end.
            data = bytes(self._buf) + self._rest()
            self._buf = bytearray()
            fields["connection"] = "close"
        if fields.get("connection") == "close":
            self.close()
        return status, data

    def _recv(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            if not self._answered:
                raise  # Before any answer: the request may be sent again.
            chunk = b""
        if not chunk:
            if not self._answered:
                raise Closed("the daemon closed the connection")
            raise ConnectionError("the daemon's answer was cut short")
        self._answered = True
        self._buf += chunk

    def _until(self, end_mark):
        """The answer's bytes up to `end_mark`, which is consumed too."""
        while (end := self._buf.find(end_mark)) < 0:
            if len(self._buf) > _MAX_HEAD:
                raise ConnectionError("the daemon's answer has too long a head")
            self._recv()
        part = bytes(self._buf[:end])
        del self._buf[:end + len(end_mark)]
        return part

    def _head(self):
        head = self._until(b"\r\n\r\n")
        status_line, *rest = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
        fields = {}
        for line in rest:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        return int(parts[1]), fields

    def _take(self, n):
        while len(self._buf) < n:
            self._recv()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _chunks(self):
        parts = []
        while size := int(self._until(b"\r\n").split(b";")[0], 16):
            parts.append(self._take(size))
            self._take(2)
        while self._until(b"\r\n"):  # Trailers, up to the empty line.
            pass
        return b"".join(parts)

    def _rest(self):
        parts = []
        while chunk := self.sock.recv(65536):
            parts.append(chunk)
        return b"".join(parts)
