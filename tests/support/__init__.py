"""Helpers shared by several test files: a validated test client, a live wsgiref server, raw requests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.validate import validator

from microweb.testing import TestClient

#: The secret key the tests' apps sign sessions with (long enough, and no placeholder word, for the key check).
SECRET = "test-only-key-0123456789abcdef"


def validated_client(app: Any, **kwargs: Any) -> TestClient:
    """A test client that checks every exchange against PEP 3333 (wsgiref.validate)."""
    return TestClient(validator(app), **kwargs)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # no request lines in the test output


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a connection Chromium opened and left idle must not hold up the others


def threaded_server(app: Any) -> WSGIServer:
    """A quiet wsgiref server of ``app`` on 127.0.0.1 (a free port), a thread per connection: for browsers."""
    return make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)


@contextlib.contextmanager
def in_thread(server: Any, join: float = 10) -> Iterator[int]:
    """Run a socketserver-style ``server`` in a thread for the ``with`` block; its port is yielded."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=join)


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[int]:
    """Serve ``app`` on a real wsgiref server at 127.0.0.1 (a free port, yielded) for the ``with`` block."""
    with in_thread(make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)) as port:
        yield port


def raw_request(port: int, method: str, target: str, headers: str = "", host: str | None = None) -> tuple[bytes, bytes]:
    """Send one request as bytes on a socket, exactly as given; return the response's head and everything after.

    A raw socket, because http.client neither sends an unnormalised path as is nor reads
    a body that a HEAD response wrongly carries. ``host`` is the Host header (the server's address by default).
    """
    host = host or f"127.0.0.1:{port}"
    request = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request.encode("latin-1"))
        raw = b""
        for _ in range(1000):  # until the server closes the connection (bounded)
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest
