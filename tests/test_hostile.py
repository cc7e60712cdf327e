"""Hostile input, in process: generated requests never get a 5xx, a traceback or a broken WSGI exchange.

Each generated request (``hostile_support.generate``) is built as a raw WSGI environ, so the test controls
every byte, and sent through ``wsgiref.validate.validator`` to two versions of the same app: a plain one
(the fast paths) and one with hooks and an error handler. After each request the app must still answer
known requests correctly, and hold no request context.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest
from hostile_support.app import create_app
from hostile_support.checks import check_answer, report
from hostile_support.generate import HostileRequest, environ, requests
from hypothesis import event, given, settings

from microweb import App
from microweb.context import _current

APPS = {"plain": create_app(), "hooks": create_app(hooks=True)}
#: How many generated requests each test sent, reported at the end of the module.
SENT: dict[str, int] = {}


class _Recorder(logging.Handler):
    """Keeps the microweb logger's errors: a request that logs one went wrong, whatever its status."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


RECORDER = _Recorder()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    logger = logging.getLogger("microweb")
    logger.addHandler(RECORDER)
    yield
    logger.removeHandler(RECORDER)
    report(request.config, "in process", SENT)


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
    with pytest.raises(LookupError):
        _current.get()  # no request context left behind


@settings(max_examples=300, deadline=None)
@given(req=requests())
def test_generated_requests_never_break_the_app(req: HostileRequest) -> None:
    for name, app in APPS.items():
        RECORDER.records.clear()
        env, lax = environ(req)
        status, headers, data = call(app, env, lax)
        SENT[name] = SENT.get(name, 0) + 1
        event(f"{name}: {status[:3]}")  # shown by --hypothesis-show-statistics
        check_answer(req, status, headers, data)
        assert [r.getMessage() for r in RECORDER.records] == [], f"{status} logged errors for {req!r}"
        check_still_answers(app)
