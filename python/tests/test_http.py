"""labrt._http, the remote managers' HTTP client, against a scripted server
on 127.0.0.1: what it reads, what it sends again and what it refuses."""

import json
import socket
import threading

import pytest

from labrt import _errors, remote


class Scripted:
    """Answers each request on a connection with the next of `answers`:
    bytes; a tuple of bytes, sent before the connection is closed; or None,
    to close it without a word. Keeps the requests it read."""

    def __init__(self, *connections):
        self.connections = list(connections)
        self.requests = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for answers in self.connections:
            conn, _ = self.listener.accept()
            with conn:
                buf = b""
                for answer in answers:
                    request = self._read(conn, buf)
                    if request is None:
                        break  # The client closed it.
                    head, body, buf = request
                    self.requests.append((head, body))
                    if answer is None:
                        break
                    if isinstance(answer, tuple):
                        conn.sendall(answer[0])
                        break
                    conn.sendall(answer)

    @staticmethod
    def _read(conn, buf):
        """(head, body, what follows) of the next request; None at its end."""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        length = sum(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:"))
        while len(buf) < length:
            buf += conn.recv(65536)
        return head, buf[:length], buf[length:]

    def close(self):
        """Ends the script; a connection it still waits for comes empty."""
        if self.thread.is_alive():
            socket.create_connection(self.listener.getsockname()).close()
        self.thread.join(timeout=10)
        self.listener.close()


def json_answer(text, extra=""):
    body = text.encode()
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_lengths_chunks_and_a_closing_answer():
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\n{\"a\"\r\n3;x=y\r\n: 1\r\n1\r\n}\r\n0\r\nTrailer: t\r\n\r\n")
    server = Scripted([json_answer('{"n": 1}'), chunked,
                       json_answer('{"n": 3}', "Connection: close\r\n")],
                      [json_answer('{"n": 4}')])
    s = remote.Server(server.url)
    assert s.call("GET", "/one") == {"n": 1}
    assert s.call("GET", "/two") == {"a": 1}
    assert s.call("POST", "/three", {"x": "é"}) == {"n": 3}
    assert s._local.conn.sock is None  # Closed as the daemon said.
    assert s.call("PUT", "/four") == {"n": 4}
    server.close()
    heads = [h.decode() for h, _ in server.requests]
    assert heads[0].startswith("GET /one HTTP/1.1\r\n")
    assert "Content-Length" not in heads[0]
    assert json.loads(server.requests[2][1]) == {"x": "é"}
    # A PUT without a body says so, rather than leave the daemon waiting.
    assert "Content-Length: 0" in heads[3]


def test_a_connection_closed_while_idle_is_replaced_once():
    # The daemon closes an idle connection before it reads the next request.
    server = Scripted([(json_answer('{"n": 1}'),)], [json_answer('{"n": 2}')])
    s = remote.Server(server.url)
    assert s.call("GET", "/a") == {"n": 1}
    assert s.call("POST", "/b", {}) == {"n": 2}  # Sent again on a new connection.
    server.close()
    assert [h.split(b" ")[1] for h, _ in server.requests] == [b"/a", b"/b"]


def test_an_answer_cut_short_is_not_sent_again():
    cut = json_answer('{"started": true}')[:-5]
    server = Scripted([json_answer('{"n": 1}'), (cut,)], [json_answer('{"n": 2}')])
    s = remote.Server(server.url, timeout=10)
    assert s.call("GET", "/a") == {"n": 1}
    with pytest.raises(_errors.ShuttingDownError, match="cut short"):
        s.call("POST", "/api/test/start", {"script": "x"})
    server.close()
    assert [h.split(b" ")[1] for h, _ in server.requests] == [b"/a", b"/api/test/start"]


def test_interim_answers_and_bodiless_ones():
    server = Scripted([b"HTTP/1.1 100 Continue\r\n\r\n" + json_answer('{"n": 1}'),
                       b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
                       json_answer('{"n": 3}')])
    s = remote.Server(server.url)
    assert s.call("GET", "/a") == {"n": 1}
    assert s.call("DELETE", "/b") is None
    assert s.call("GET", "/c") == {"n": 3}
    server.close()


def test_text_that_would_write_a_header_is_refused():
    s = remote.Server("http://127.0.0.1:9", token="abc\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="Authorization"):
        s.call("GET", "/healthz")
    with pytest.raises(ValueError, match="request target"):
        remote.Server("http://127.0.0.1:9").call("GET", "/a b")
    with pytest.raises(ValueError, match="header name"):
        remote.Server("http://127.0.0.1:9").call("GET", "/a", headers={"X: y": "1"})
