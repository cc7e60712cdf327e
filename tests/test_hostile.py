"""Hostile input, in process: generated requests never get a 5xx, a traceback or a broken WSGI exchange.

Each generated request (``hostile_support.generate``) is built as a raw WSGI environ, so the test controls
every byte, and sent through ``wsgiref.validate.validator`` to two versions of the same app: a plain one
(the fast paths) and one with hooks and an error handler. After each request the app must still answer
known requests correctly, and hold no request context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hostile_support.app import create_app
from hostile_support.checks import call, check_answer, check_still_answers, report
from hostile_support.generate import HostileRequest, environ, requests
from hypothesis import event, given, settings

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
