"""PEP 3333 compliance: every kind of response passes wsgiref.validate, HEAD has no body, close() reaches the view."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest
from werkzeug.test import EnvironBuilder

from microweb import App, Response, abort, redirect, session

from support import SECRET, live_server, raw_request


def make_app() -> App:
    app = App(secret_key=SECRET)
    app.add_route("/str", lambda: "text", endpoint="str")
    app.add_route("/bytes", lambda: b"bytes", endpoint="bytes")
    app.add_route("/json", lambda: {"a": 1}, endpoint="json")
    app.add_route("/tuple", lambda: ("made", 201, {"X-A": "b"}), endpoint="tuple")
    app.add_route("/response", lambda: Response("r", mimetype="text/plain"), endpoint="response")
    app.add_route("/stream", lambda: (chunk for chunk in ("a", "b")), endpoint="stream")
    app.add_route("/redirect", lambda: redirect("/str"), endpoint="redirect")
    app.add_route("/abort", lambda: abort(418), endpoint="abort")
    app.add_route("/error", lambda: 1 / 0, endpoint="error")
    app.add_route("/nocontent", lambda: ("", 204), endpoint="nocontent")

    @app.get("/session")
    def with_session() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    return app


CASES = [
    ("GET", "/str", 200),
    ("GET", "/bytes", 200),
    ("GET", "/json", 200),
    ("GET", "/tuple", 201),
    ("GET", "/response", 200),
    ("GET", "/stream", 200),
    ("GET", "/redirect", 302),
    ("GET", "/abort", 418),
    ("GET", "/error", 500),
    ("GET", "/nocontent", 204),
    ("GET", "/session", 200),
    ("GET", "/missing", 404),
    ("POST", "/str", 405),
    ("OPTIONS", "/str", 200),
    ("GET", "/str/", 404),
]


def call(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request straight through the WSGI interface, closing the body as a server must."""
    environ = EnvironBuilder(path=path, method=method, headers=headers).get_environ()
    environ["wsgi.errors"] = sys.stderr
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    iterable = app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return seen["status"], seen["headers"], body


@pytest.mark.parametrize(("method", "path", "status"), CASES)
def test_every_response_kind_passes_the_validator(method: str, path: str, status: int) -> None:
    got, headers, body = call(validator(make_app()), method, path)
    assert int(got.split()[0]) == status
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in headers)


@pytest.mark.parametrize(("method", "path", "status"), [case for case in CASES if case[0] == "GET"])
def test_head_never_has_a_body(method: str, path: str, status: int) -> None:
    got, headers, body = call(validator(make_app()), "HEAD", path)
    assert int(got.split()[0]) == status
    assert body == b""


# Werkzeug's matcher leaves a closure cycle of its own behind when it cannot match a path
# (404, 405) or is asked for the allowed methods (OPTIONS).
MATCHED_CASES = [case for case in CASES if case[1] not in ("/missing", "/str/") and case[0] == "GET"]


@pytest.mark.parametrize(("method", "path", "status"), MATCHED_CASES)
def test_a_request_leaves_no_reference_cycles(method: str, path: str, status: int) -> None:
    """What a request made is freed as it ends, not left for the cycle collector (RSS would creep)."""
    app = make_app()
    call(app, method, path)  # the route index and caches fill on the first request
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert call(app, method, path)[0].startswith(str(status))
        gc.collect()
        leftovers = sorted({type(obj).__name__ for obj in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert leftovers == []


def make_head_app(static_folder: Path, debug: bool = False) -> App:
    """Every kind of response, for HEAD: the fast path, Response objects, streams, files, errors, redirects."""
    (static_folder / "file.txt").write_text("a static file", encoding="utf-8")
    app = App(secret_key=SECRET, static_folder=static_folder, debug=debug)
    app.add_route("/plain", lambda: "text", endpoint="plain")
    app.add_route("/json", lambda: {"a": 1}, endpoint="json")
    app.add_route("/response", lambda: Response("r", mimetype="text/plain"), endpoint="response")
    app.add_route("/stream", lambda: (chunk for chunk in ("a", "b")), endpoint="stream")
    app.add_route("/streamed-response", lambda: Response(iter([b"x", b"y"])), endpoint="streamed_response")
    app.add_route("/redirect", lambda: redirect("/plain"), endpoint="redirect")
    app.add_route("/folder/", lambda: "folder", endpoint="folder")
    app.add_route("/described", lambda: abort(400, "Because."), endpoint="described")
    app.add_route("/error", lambda: 1 / 0, endpoint="error")
    app.add_route("/post-only", lambda: "posted", methods=["POST"], endpoint="post_only")

    @app.get("/stream-with-session")
    def stream_with_session() -> Iterator[str]:
        session["seen"] = True
        yield "streamed"

    return app


HEAD_CASES = [
    ("/plain", {}, 200),
    ("/json", {}, 200),
    ("/response", {}, 200),
    ("/stream", {}, 200),
    ("/streamed-response", {}, 200),
    ("/stream-with-session", {}, 200),
    ("/static/file.txt", {}, 200),
    ("/redirect", {}, 302),
    ("/folder", {}, 308),
    ("/missing", {}, 404),
    ("/missing", {"Accept": "application/json"}, 404),
    ("/post-only", {}, 405),
    ("/described", {}, 400),
    ("/error", {}, 500),
    ("/error", {"Accept": "application/json"}, 500),
]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(("path", "headers", "status"), HEAD_CASES)
def test_head_has_no_body_for_every_kind_of_response(
    tmp_path: Path, debug: bool, path: str, headers: dict[str, str], status: int
) -> None:
    app = validator(make_head_app(tmp_path, debug))
    got, head_headers, body = call(app, "HEAD", path, headers)
    assert int(got.split()[0]) == status
    assert body == b""
    _, get_headers, get_body = call(app, "GET", path, headers)
    assert get_body  # there was a body to leave out
    if not (debug and status == 500):  # a traceback differs from one call to the next
        assert dict(head_headers).get("Content-Length") == dict(get_headers).get("Content-Length")


def test_head_has_no_body_over_a_real_server(tmp_path: Path) -> None:
    paths = ["/plain", "/response", "/stream", "/streamed-response", "/static/file.txt"]
    paths += ["/redirect", "/folder", "/missing", "/post-only", "/described", "/error"]
    with live_server(make_head_app(tmp_path)) as port:
        for path in paths:
            head, rest = raw_request(port, "HEAD", path)
            assert head.startswith(b"HTTP/1.0 ") and rest == b"", (path, head, rest)
            _, get_rest = raw_request(port, "GET", path)
            assert get_rest, path  # the same request as a GET does have a body


def test_close_reaches_a_streaming_view() -> None:
    app = App()
    closed: list[bool] = []

    @app.get("/")
    def stream() -> Iterator[str]:
        try:
            yield "first"
            yield "second"
        finally:
            closed.append(True)

    environ = EnvironBuilder(path="/").get_environ()
    iterable = validator(app)(environ, lambda status, headers, exc_info=None: None)
    iterator = iter(iterable)
    assert next(iterator) == b"first"
    iterable.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_app_is_a_plain_callable_and_wsgi_app_is_replaceable() -> None:
    app = make_app()
    status, _, body = call(app, "GET", "/str")
    assert (status, body) == ("200 OK", b"text")
    status, _, body = call(app.wsgi_app, "GET", "/json")
    assert body == b'{"a":1}'


def test_no_module_removed_in_python_3_13_is_imported() -> None:
    import subprocess

    code = (
        "import sys, microweb, microweb.serving, microweb.cli, microweb.csrf, microweb.testing;"
        "from wsgiref.handlers import CGIHandler;"
        "print(sorted(m for m in ('cgi', 'cgitb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
