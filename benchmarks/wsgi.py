"""Driving a WSGI app without a server: build a PEP 3333 environ, call the app, collect the reply."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Reply:
    """What a WSGI app answered: status code, headers, the whole body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


def make_environ(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    content_type: str = "",
    headers: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A PEP 3333 environ as a server on localhost:80 would pass it, without ``wsgi.input``.

    The caller adds a fresh ``wsgi.input`` per request, since the app reads it.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = content_type
    for name, value in headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def call(app: WSGIApp, environ: dict[str, Any], body: bytes = b"") -> Reply:
    """Call ``app`` once with a copy of ``environ`` and return its whole reply."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return lambda data: None

    iterable = app(env, start_response)
    try:
        data = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return Reply(int(started[0].split(" ", 1)[0]), list(started[1]), data)


def session_cookie(app: WSGIApp) -> str:
    """The ``Cookie`` header value a browser would send after ``GET /login`` on ``app``.

    Each framework signs its session its own way, so the benchmark logs in
    through the framework rather than forging a cookie.
    """
    reply = call(app, make_environ("GET", "/login"))
    cookies = [value.split(";", 1)[0] for key, value in reply.headers if key.lower() == "set-cookie"]
    if reply.status != 200 or not cookies:
        raise RuntimeError(f"GET /login answered {reply.status} without a cookie")
    return "; ".join(cookies)
