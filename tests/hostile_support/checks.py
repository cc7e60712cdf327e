"""The in-process exchange, what every answer to a hostile request must be, and the count report.

Used by the in-process and gunicorn tests and by the fuzz target (``fuzz/fuzz_dispatch.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from wsgiref.validate import validator

import pytest

from microweb import App
from microweb.ctx import context_var

from .generate import HostileRequest, environ

#: What a body may show only if the request itself carried it (the app echoes some input).
LEAKS = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b\w+(?:Error|Exception)\b")


def _lax(app: Any, overrides: dict[str, str]) -> Any:
    """Set what only a lax server passes on, past the validator's environ check (see ``environ()``)."""

    def wsgi(env: dict[str, Any], start_response: Any) -> Any:
        env.update(overrides)
        return app(env, start_response)

    return wsgi


def call(app: App, env: dict[str, Any], lax: dict[str, str] | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    """One exchange through the validator: status, headers and the whole body, closed as servers do."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    body = validator(_lax(app, lax or {}))(env, start_response)
    try:
        data = b"".join(body)
    finally:
        body.close()  # type: ignore[attr-defined]
    assert len(started) == 1
    return started[0][0], started[0][1], data


def check_still_answers(app: App) -> None:
    """Known requests get their known answers: nothing a hostile request did stuck."""
    env, _ = environ(HostileRequest("GET", "/i/21"))
    status, _, data = call(app, env)
    assert (status, json.loads(data)) == ("200 OK", {"double": 42})
    env, _ = environ(
        HostileRequest("POST", "/form", [("Content-Type", "application/x-www-form-urlencoded")], b"a=1", "3")
    )
    status, _, data = call(app, env)
    assert (status, json.loads(data)) == ("200 OK", {"form": {"a": ["1"]}})
    assert context_var.get(None) is None, "a request context was left behind"


def check_answer(req: HostileRequest, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
    """Not a 5xx; no traceback or exception name in the body; HEAD without a body; a true Content-Length."""
    code = int(status[:3])
    assert 100 <= code < 500, f"{status} for {req!r}"
    check_no_leak(req.text(), status, data)
    if req.method == "HEAD":
        assert data == b""
    length = [value for name, value in headers if name.lower() == "content-length"]
    if length and req.method != "HEAD" and code not in (204, 304):
        assert int(length[0]) == len(data), "Content-Length does not match the body"


def check_no_leak(sent: str, status: str, data: bytes) -> None:
    """No traceback or exception name in the body, unless the request itself had that text."""
    for leak in LEAKS.findall(data.decode("latin-1")):
        assert leak in sent, f"{leak!r} in the body of {status} for {sent!r}"


def report(config: pytest.Config, where: str, sent: dict[str, int]) -> None:
    """Show how many generated requests were sent (past pytest's output capture, even with -q)."""
    if not sent:
        return
    counts = ", ".join(f"{name} {count}" for name, count in sent.items())
    line = f"hostile input: {sum(sent.values())} generated requests sent {where} ({counts})"
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
