"""Faults: an exception at every site of a request, and what the client, the log and the database see.

The matrix injects one fault per request, at one site (a view, a hook, an error
handler, a template, a resource's commit or rollback), into an app that writes
to a real SQLite file, and checks the same things for each:

- the client gets a 500 (or the error handler's response) that shows neither the
  exception nor a traceback;
- each exception that is not handled is one record on the ``microweb`` logger,
  with its traceback, and no exception is the record of two;
- the resource was finalized (rolled back: nothing of the request is in the
  file) before the teardown hooks ran, and they got the error that ended the
  request;
- a failing teardown hook, added to any case, is one more record and changes
  nothing else: the original error is still the one logged, passed and answered;
- the teardown hooks get the error with the traceback it was logged with.

"Logged once" means one record per exception object. A record's traceback also
shows the exception it was raised while handling (Python's chaining), so an
error handler that fails is one record whose traceback shows both errors.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from wsgiref.validate import validator

import pytest
from gateways.faultapp import MAX_ROWS, line
from gateways.faultapp import SECRET as STREAM_SECRET
from gateways.harness import ServerProcess, free_port, need_modules, running
from werkzeug.exceptions import ClientDisconnected, Conflict
from werkzeug.test import EnvironBuilder

from microweb import App, Jinja2Templates, Response, StringTemplates, abort, render, request

from support import validated_client

SECRET = "s3cret-fault-detail"
#: What a 500 page must never contain (debug is off): tracebacks, file paths, exception names.
LEAKS = (SECRET, "Traceback", 'File "', "Fault", "Refused", ".py")


class Fault(Exception):
    """An injected exception."""


class Refused(Exception):
    """An exception the app has an error handler for."""


@dataclass
class Rig:
    """An app that writes one row per request to a real SQLite file, and what happened to that request."""

    app: App
    db_path: Path
    raised: list[BaseException] = field(default_factory=list)  # every injected exception, in order
    teardown_errors: list[BaseException | None] = field(default_factory=list)
    teardown_tracebacks: list[TracebackType | None] = field(default_factory=list)  # as the hooks got them
    events: list[str] = field(default_factory=list)  # the resource's life
    events_at_teardown: list[list[str]] = field(default_factory=list)
    body: Callable[[], Any] = lambda: "saved"  # what the view does after its write
    rollback_fails: bool = False
    generator: list[str] = field(default_factory=list)  # the streamed body's life

    def fault(self, where: str, cls: type[Exception] = Fault) -> Exception:
        exc = cls(f"{SECRET} in {where}")
        self.raised.append(exc)
        return exc

    def notes(self) -> list[str]:
        conn = sqlite3.connect(self.db_path)
        try:
            return [text for (text,) in conn.execute("SELECT text FROM notes ORDER BY rowid")]
        finally:
            conn.close()


def _database(path: Path) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")
        conn.execute("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
        # Checked at COMMIT: the way to make a real SQLite commit fail.
        conn.execute("CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.close()
    return path


def _make_app(rig_holder: list[Rig], db_path: Path, templates: Any) -> App:
    app = App(__name__, templates=templates)

    @app.resource
    def db() -> Iterator[sqlite3.Connection]:
        rig = rig_holder[0]
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA foreign_keys = ON")
        rig.events.append("open")
        try:
            yield conn
            conn.commit()
            rig.events.append("commit")
        except Exception as exc:
            rig.events.append(f"rollback:{type(exc).__name__}")
            if rig.rollback_fails:
                raise rig.fault("rollback") from exc  # the connection's close still drops the transaction
            conn.rollback()
            raise
        finally:
            conn.close()
            rig.events.append("close")

    @app.post("/write")
    def write() -> Any:
        db().execute("INSERT INTO notes VALUES (?)", (request.form["text"],))
        return rig_holder[0].body()

    _add_stream(app, rig_holder, db)
    app.config["db"] = db
    return app


def _add_stream(app: App, rig_holder: list[Rig], db: Any) -> None:
    """GET /stream: a row written and a line sent per chunk.

    ``?rows=N`` chunks (3), ``?fail_at=N`` raises at chunk N, ``?orphan=1`` makes the commit fail.
    """

    @app.get("/stream")
    def stream() -> Response:
        rig = rig_holder[0]
        fail_at = request.args.get("fail_at", type=int)
        orphan = "orphan" in request.args

        def rows() -> Iterator[str]:
            rig.generator.append("started")
            try:
                for i in range(request.args.get("rows", 3, type=int)):
                    if i == fail_at:
                        raise rig.fault(f"chunk {i}")
                    db().execute("INSERT INTO notes VALUES (?)", (f"streamed {i}",))
                    yield f"row {i}\n"
                if orphan:
                    db().execute("INSERT INTO children VALUES (42)")  # no parent 42: the commit fails
            except GeneratorExit:
                rig.generator.append("closed")
                raise
            rig.generator.append("finished")

        return Response(rows(), mimetype="text/plain")


def _rig(tmp_path: Path, templates: Any = None) -> Rig:
    holder: list[Rig] = []
    db_path = _database(tmp_path / "faults.sqlite3")
    rig = Rig(_make_app(holder, db_path, templates), db_path)
    holder.append(rig)
    return rig


def _observe_teardown(rig: Rig) -> None:
    """The last teardown hook: records the error it gets and how far the resource got by then."""

    @rig.app.teardown_request
    def observe(error: BaseException | None) -> None:
        rig.teardown_errors.append(error)
        rig.events_at_teardown.append(list(rig.events))
        rig.teardown_tracebacks.append(error.__traceback__ if error is not None else None)


# ---------------------------------------------------------------- the fault sites

# A site installs its fault and says what must follow. `records` lists (message start, exception): an int
# is an index into rig.raised (that very object), a class any instance of it.
Match = int | type[BaseException]


@dataclass
class Expect:
    status: int
    records: list[tuple[str, Match]]
    teardown: Match | None
    committed: bool = False
    body: bytes | None = None  # an error handler's own answer


ON = "Exception on POST /write [write]"
HANDLING = "Exception while handling an error on POST /write [write]"
CLOSING = "Exception while closing the resources of POST /write [write]"
TEARDOWN = "Exception in teardown hook"


def site_view(rig: Rig, tmp_path: Path) -> Expect:
    def failing_view() -> str:
        raise rig.fault("view")

    rig.body = failing_view
    return Expect(500, [(ON, 0)], teardown=0)


def site_before_hook(rig: Rig, tmp_path: Path) -> Expect:
    db = rig.app.config["db"]

    @rig.app.before_request
    def failing_before() -> None:
        db().execute("INSERT INTO notes VALUES ('written by the before hook')")
        raise rig.fault("before hook")

    return Expect(500, [(ON, 0)], teardown=0)


def site_after_hook(rig: Rig, tmp_path: Path) -> Expect:
    @rig.app.after_request
    def failing_after(response: Response) -> Response:
        if response.status_code == 200:  # fails on the view's response, lets the error page through
            raise rig.fault("after hook")
        return response

    return Expect(500, [(ON, 0)], teardown=0)


def site_after_hook_on_every_response(rig: Rig, tmp_path: Path) -> Expect:
    @rig.app.after_request
    def failing_after(response: Response) -> Response:
        raise rig.fault(f"after hook on a {response.status_code}")

    # It fails twice, on the view's response and on the error page: two exceptions, one record each,
    # and the client gets the plain 500 page that no hook touches.
    return Expect(500, [(ON, 0), (HANDLING, 1)], teardown=0)


def site_teardown_hook(rig: Rig, tmp_path: Path) -> Expect:
    @rig.app.teardown_request
    def failing_teardown(error: BaseException | None) -> None:
        raise rig.fault("teardown hook")

    # Teardown runs after the commit: the write happened, so the answer stays a 200.
    return Expect(200, [(TEARDOWN, 0)], teardown=None, committed=True, body=b"saved")


def site_http_error_handler(rig: Rig, tmp_path: Path) -> Expect:
    rig.body = lambda: abort(409)

    @rig.app.errorhandler(409)
    def failing_handler(error: Conflict) -> str:
        raise rig.fault("409 handler")

    # An HTTP error is an answer, not a fault: only the handler's exception is logged.
    return Expect(500, [(HANDLING, 0)], teardown=Conflict)


def site_exception_error_handler(rig: Rig, tmp_path: Path) -> Expect:
    def refusing_view() -> str:
        raise rig.fault("view", Refused)

    rig.body = refusing_view

    @rig.app.errorhandler(Refused)
    def failing_handler(error: Refused) -> str:
        raise rig.fault("Refused handler")

    # Refused was given to its handler, so it is not a record of its own; the handler's record
    # shows it as the exception being handled (checked below).
    return Expect(500, [(HANDLING, 1)], teardown=0)


def site_500_handler(rig: Rig, tmp_path: Path) -> Expect:
    def failing_view() -> str:
        raise rig.fault("view")

    rig.body = failing_view

    @rig.app.errorhandler(500)
    def failing_handler(error: Any) -> str:
        raise rig.fault("500 handler")

    # The view's exception is logged before its handler runs, the handler's when it fails.
    return Expect(500, [(ON, 0), (HANDLING, 1)], teardown=0)


def site_view_handled(rig: Rig, tmp_path: Path) -> Expect:
    def refusing_view() -> str:
        raise rig.fault("view", Refused)

    rig.body = refusing_view
    rig.app.errorhandler(Refused)(lambda error: ("handled: sorry", 409))
    # Handled by the app's own handler: its answer, no record, and still a failed request (rollback).
    return Expect(409, [], teardown=0, body=b"handled: sorry")


def site_view_with_500_page(rig: Rig, tmp_path: Path) -> Expect:
    def failing_view() -> str:
        raise rig.fault("view")

    rig.body = failing_view
    rig.app.errorhandler(500)(lambda error: ("our own 500 page", 500))
    return Expect(500, [(ON, 0)], teardown=0, body=b"our own 500 page")


def _template(rig: Rig, tmp_path: Path, adapter: Any, text: str, **context: Any) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.html").write_text(text)
    rig.app.templates = adapter(folder)
    rig.body = lambda: render("page.html", **context)


def site_string_template(rig: Rig, tmp_path: Path) -> Expect:
    _template(rig, tmp_path, StringTemplates, "<p>$missing_variable</p>")
    return Expect(500, [(ON, KeyError)], teardown=KeyError)


def site_jinja2_template(rig: Rig, tmp_path: Path) -> Expect:
    from jinja2.exceptions import UndefinedError

    _template(rig, tmp_path, Jinja2Templates, "<p>{{ user.name.upper() }}</p>", user={})
    return Expect(500, [(ON, UndefinedError)], teardown=UndefinedError)


def site_jinja2_syntax(rig: Rig, tmp_path: Path) -> Expect:
    from jinja2.exceptions import TemplateSyntaxError

    _template(rig, tmp_path, Jinja2Templates, "<p>{% for x in %}{% endfor %}</p>")
    return Expect(500, [(ON, TemplateSyntaxError)], teardown=TemplateSyntaxError)


def site_commit(rig: Rig, tmp_path: Path) -> Expect:
    db = rig.app.config["db"]

    def orphan() -> str:
        db().execute("INSERT INTO children VALUES (42)")  # no parent 42: COMMIT fails
        return "saved"

    rig.body = orphan
    # The view succeeded, the commit did not: a 500, not a success that did not happen.
    return Expect(500, [(CLOSING, sqlite3.IntegrityError)], teardown=sqlite3.IntegrityError)


def site_rollback(rig: Rig, tmp_path: Path) -> Expect:
    def failing_view() -> str:
        raise rig.fault("view")

    rig.body = failing_view
    rig.rollback_fails = True
    # Two faults, two records; the teardown hooks get the first, the one that ended the request.
    return Expect(500, [(ON, 0), (CLOSING, 1)], teardown=0)


SITES: dict[str, Callable[[Rig, Path], Expect]] = {
    "view": site_view,
    "before_hook": site_before_hook,
    "after_hook": site_after_hook,
    "after_hook_on_every_response": site_after_hook_on_every_response,
    "teardown_hook": site_teardown_hook,
    "http_error_handler": site_http_error_handler,
    "exception_error_handler": site_exception_error_handler,
    "500_error_handler": site_500_handler,
    "view_handled_by_errorhandler": site_view_handled,
    "view_with_own_500_page": site_view_with_500_page,
    "string_template": site_string_template,
    "jinja2_template": site_jinja2_template,
    "jinja2_template_syntax": site_jinja2_syntax,
    "resource_commit": site_commit,
    "resource_rollback": site_rollback,
}

# ---------------------------------------------------------------- the matrix


def _is(rig: Rig, match: Match, exc: BaseException | None) -> bool:
    if isinstance(match, int):
        return exc is rig.raised[match]
    return isinstance(exc, match)


def _check_client(rig: Rig, expect: Expect, response: Any, accept: str) -> None:
    """The status, the handler's own answer if any, and nothing of any exception."""
    assert response.status_code == expect.status
    if expect.body is not None:
        assert response.data == expect.body
    body = response.get_data(as_text=True)
    for leak in [*LEAKS, *(str(exc) for exc in rig.raised)]:
        assert leak not in body
    if expect.status == 500 and expect.body is None and accept == "application/json":
        assert response.json["error"]["code"] == 500


def _check_records(rig: Rig, expected: list[tuple[str, Match]], records: list[logging.LogRecord]) -> None:
    """One ERROR record per expected exception, in order, each with that exception's traceback."""
    messages = [record.getMessage() for record in records]
    assert len(records) == len(expected), messages
    for record, (start, match) in zip(records, expected, strict=True):
        assert record.levelno == logging.ERROR and record.getMessage().startswith(start), messages
        assert record.exc_info is not None and _is(rig, match, record.exc_info[1]), record.exc_info
        exc = record.exc_info[1]
        assert exc is not None and record.exc_info[2] is not None
        text = logging.Formatter().formatException(record.exc_info)
        assert text.startswith("Traceback (most recent call last)")
        assert traceback.format_exception_only(exc)[-1].strip() in text
        if isinstance(match, int):  # an injected fault: the traceback goes down to the line that raised it
            assert (traceback.extract_tb(record.exc_info[2])[-1].line or "").startswith("raise rig.fault(")
    # The same exception is never the record of two.
    logged = [id(record.exc_info[1]) for record in records if record.exc_info]
    assert len(logged) == len(set(logged))


def _check_finalized(rig: Rig, expect: Expect) -> None:
    """Teardown ran once, after the resource was finalized, with the request's error; the database agrees."""
    assert len(rig.teardown_errors) == 1
    error = rig.teardown_errors[0]
    assert error is None if expect.teardown is None else _is(rig, expect.teardown, error)
    assert rig.events_at_teardown == [rig.events]
    if expect.committed:
        assert rig.events == ["open", "commit", "close"]
        assert rig.notes() == ["kept", "the request's write"]
    else:  # rolled back: nothing the request wrote is in the file
        assert rig.events == ["open", f"rollback:{type(error).__name__}", "close"]
        assert rig.notes() == ["kept"]


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
@pytest.mark.parametrize("broken_teardown", [False, True], ids=["", "with_failing_teardown"])
@pytest.mark.parametrize("site", list(SITES))
def test_fault(site: str, broken_teardown: bool, accept: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rig = _rig(tmp_path)
    expect = SITES[site](rig, tmp_path)
    if broken_teardown:  # registered before the observing hook, so it fails first

        @rig.app.teardown_request
        def broken(error: BaseException | None) -> None:
            raise rig.fault("a broken teardown hook")

        expect.records = [*expect.records, (TEARDOWN, -1)]  # it runs last: the last exception raised
    _observe_teardown(rig)
    assert not rig.app.debug

    with caplog.at_level(logging.DEBUG, logger="microweb"):
        client = validated_client(rig.app)
        response = client.post("/write", data={"text": "the request's write"}, headers={"Accept": accept})

    _check_client(rig, expect, response, accept)
    records = [r for r in caplog.records if r.name == rig.app.logger.name]
    _check_records(rig, expect.records, records)
    _check_finalized(rig, expect)
    # The teardown hooks get the error with the traceback it was logged with: finalizing the
    # resources (which throws it into their generators) must not put their frames on top of it.
    for record in records:
        if record.exc_info and record.exc_info[1] is rig.teardown_errors[0]:
            assert record.exc_info[2] is rig.teardown_tracebacks[0]


def test_exception_handler_failure_shows_the_error_it_was_handling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = _rig(tmp_path)
    site_exception_error_handler(rig, tmp_path)
    with caplog.at_level(logging.ERROR, logger="microweb"):
        assert rig.app.test_client().post("/write", data={"text": "x"}).status_code == 500
    (record,) = caplog.records
    assert record.exc_info is not None
    original, handler_error = rig.raised
    assert record.exc_info[1] is handler_error and handler_error.__context__ is original
    text = logging.Formatter().formatException(record.exc_info)
    assert text.count(f"Refused: {SECRET} in view") == 1
    assert "During handling of the above exception, another exception occurred" in text


def test_without_a_fault_the_request_commits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The control: the same app, no fault injected."""
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    with caplog.at_level(logging.DEBUG, logger="microweb"):
        response = validated_client(rig.app).post("/write", data={"text": "the request's write"})
    assert (response.status_code, response.data) == (200, b"saved")
    assert caplog.records == []
    assert rig.teardown_errors == [None]
    assert rig.events == rig.events_at_teardown[0] == ["open", "commit", "close"]
    assert rig.notes() == ["kept", "the request's write"]


# ---------------------------------------------------------------- streamed responses, in process


class Stream:
    """A streamed response called the way a server calls it: start_response, next() per chunk, close()."""

    def __init__(self, rig: Rig, url: str) -> None:
        self.status: list[str] = []
        self.body = validator(rig.app)(EnvironBuilder(url).get_environ(), self.start_response)
        self.chunks = iter(self.body)

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status.append(status)
        return lambda data: None

    def close(self) -> None:
        self.body.close()  # type: ignore[attr-defined]


def test_stream_that_fails_after_the_first_chunk(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    with caplog.at_level(logging.DEBUG, logger="microweb"):
        stream = Stream(rig, "/stream?fail_at=1")
        assert next(stream.chunks) == b"row 0\n"
        assert stream.status == ["200 OK"]  # the headers are out: too late for a 500
        with pytest.raises(Fault) as raised:
            next(stream.chunks)  # the exception goes on to the server, which drops the connection
        assert rig.teardown_errors == []  # the request is alive until the server closes the body
        stream.close()
    assert raised.value is rig.raised[0]
    _check_records(rig, [("Exception while streaming GET /stream [stream]", 0)], caplog.records)
    assert rig.teardown_errors == [raised.value]
    assert rig.events == rig.events_at_teardown[0] == ["open", "rollback:Fault", "close"]
    assert rig.notes() == ["kept"]


def test_client_gone_mid_stream_closes_the_generator(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    with caplog.at_level(logging.DEBUG, logger="microweb"):
        stream = Stream(rig, "/stream?rows=1000")
        assert next(stream.chunks) == b"row 0\n"
        stream.close()  # what a server does when a write to the client fails
    assert rig.generator == ["started", "closed"]  # GeneratorExit reached the view's generator
    assert isinstance(rig.teardown_errors[0], ClientDisconnected)
    assert rig.events == rig.events_at_teardown[0] == ["open", "rollback:ClientDisconnected", "close"]
    assert rig.notes() == ["kept"]
    assert caplog.records == []  # a client going away is not a fault of the app


def test_stream_read_to_the_end_commits(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    stream = Stream(rig, "/stream")
    assert list(stream.chunks) == [b"row 0\n", b"row 1\n", b"row 2\n"]
    # Committed before the server saw the end of the body; torn down when it closes it.
    assert (rig.events, rig.teardown_errors) == (["open", "commit", "close"], [])
    stream.close()
    assert rig.generator == ["started", "finished"]
    assert rig.teardown_errors == [None]
    assert rig.notes() == ["kept", "streamed 0", "streamed 1", "streamed 2"]


def test_stream_whose_commit_fails_does_not_end_cleanly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The commit happens before the body's end: a failed one keeps the server from ending the body cleanly."""
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    with caplog.at_level(logging.DEBUG, logger="microweb"):
        stream = Stream(rig, "/stream?orphan=1")
        assert [next(stream.chunks) for _ in range(3)] == [b"row 0\n", b"row 1\n", b"row 2\n"]
        with pytest.raises(sqlite3.IntegrityError):
            next(stream.chunks)  # instead of StopIteration: the server drops the connection
        stream.close()
    _check_records(
        rig,
        [("Exception while closing the resources of GET /stream [stream]", sqlite3.IntegrityError)],
        caplog.records,
    )
    assert isinstance(rig.teardown_errors[0], sqlite3.IntegrityError)
    assert rig.events == ["open", "rollback:IntegrityError", "close"]
    assert rig.notes() == ["kept"]


# ---------------------------------------------------------------- streamed responses, through real servers

GATEWAYS = Path(__file__).resolve().parent / "gateways"
WAIT = 15.0  # seconds: the bound on every wait for a server


@dataclass
class Served:
    """A server running gateways/faultapp.py, with its database, markers and log."""

    name: str
    port: int
    db: Path
    markers: Path
    log: Path
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def new_id(self) -> str:
        return f"{self.name}-{next(self._ids)}"

    def marker(self, req: str, what: str) -> str:
        """The marker ``req.what``, waited for (bounded): the server writes it at its own pace."""
        path = self.markers / f"{req}.{what}"
        deadline = time.monotonic() + WAIT
        while not path.exists():
            assert time.monotonic() < deadline, f"no {path.name} after {WAIT} s:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.05)
        return path.read_text()

    def rows(self, req: str) -> list[str]:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return [text for (text,) in conn.execute("SELECT text FROM notes WHERE req = ? ORDER BY rowid", (req,))]
        finally:
            conn.close()


def _server_argv(name: str, port: int) -> list[str]:
    run = [sys.executable, "-m", "microweb", "run", "faultapp:app", "--port", str(port)]
    if name == "gunicorn-gthread":  # through app.run(), as the docs show gunicorn settings
        code = (
            "import sys; from faultapp import app; "
            "app.run(server='gunicorn', port=int(sys.argv[1]), worker_class='gthread', threads=2)"
        )
        return [sys.executable, "-c", code, str(port)]
    return run + {"wsgiref": [], "gunicorn": ["--server", "gunicorn"], "waitress": ["--server", "waitress"]}[name]


SERVED = ["gunicorn", "gunicorn-gthread", "waitress", "wsgiref"]
# Every one chunks a body of unknown length for an HTTP/1.1 client (the dev server too), so a cut
# shows as a missing last chunk; to an HTTP/1.0 client it would end with the connection, unseen.
CHUNKED = SERVED


@pytest.fixture(scope="module", params=SERVED)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = request.param
    if name != "wsgiref":
        need_modules(name.split("-")[0])
    root = tmp_path_factory.mktemp(f"faults-{name}")
    (root / "markers").mkdir()
    env = {**os.environ, "FAULTS_DB": str(root / "db.sqlite3"), "FAULTS_MARKERS": str(root / "markers")}
    env["HOME"] = str(root)  # gunicorn keeps a control socket under $HOME
    port = free_port()
    server = ServerProcess(name, _server_argv(name, port), root / "server.log", env=env, cwd=GATEWAYS)
    with running((server, port)):
        yield Served(name, port, root / "db.sqlite3", root / "markers", root / "server.log")


def _request(port: int, target: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends, until it closes the connection (which it must, within WAIT)."""
    data = b""
    deadline = time.monotonic() + WAIT
    with sock:
        for _ in range(100_000):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                pytest.fail(f"the server kept the connection open for {WAIT} s after {data[:300]!r}")
            if not chunk:
                return data
            data += chunk
    pytest.fail("the server never stopped sending")


def _dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with the last (zero-size) chunk."""
    data, pos = b"", 0
    for _ in range(len(body) + 1):
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return data, False
        size = int(body[pos:eol].split(b";")[0], 16)
        if size == 0:
            return data, True
        data += body[eol + 2 : eol + 2 + size]
        if len(body) < eol + 2 + size + 2:
            return data, False
        pos = eol + 2 + size + 2
    raise AssertionError("unreachable: every round consumes bytes")


def _body(reply: bytes) -> tuple[int, bytes, bool]:
    """Status, body data, and whether the body was complete (by its chunking or its Content-Length)."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    status = int(lines[0].split()[1])
    if headers.get("transfer-encoding") == "chunked":
        data, complete = _dechunk(body)
        return status, data, complete
    assert "content-length" in headers, f"no way to tell a cut body: {head!r}"
    return status, body, len(body) >= int(headers["content-length"])


def _log_since(served: Served, offset: int, req: str) -> str:
    """What the server logged after ``offset``, once the request's teardown has run."""
    served.marker(req, "teardown")
    return served.log.read_bytes()[offset:].decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("served", "sized"),
    [(name, True) for name in SERVED] + [(name, False) for name in CHUNKED],
    indirect=["served"],
    ids=[f"{name}-content_length" for name in SERVED] + [f"{name}-chunked" for name in CHUNKED],
)
def test_served_stream_that_fails_after_the_first_chunk(served: Served, sized: bool) -> None:
    req = served.new_id()
    offset = served.log.stat().st_size
    sock = _request(served.port, f"/stream?id={req}&rows=5&fail_at=2{'&sized=1' if sized else ''}")
    status, data, complete = _body(_read_until_closed(sock))

    # The client: a 200 that started, then a connection closed before the body was complete.
    assert status == 200 and data == line(0) + line(1) and not complete
    # The server: the failure logged once, with its traceback; the generator, resource and teardown finished.
    log = _log_since(served, offset, req)
    assert log.count("Exception while streaming GET /stream [stream]") == 1, log
    assert "Traceback (most recent call last)" in log and f"{STREAM_SECRET} at row 2 of {req}" in log
    assert served.marker(req, "generator") == "raised:RuntimeError"
    assert served.marker(req, "resource") == "rollback:RuntimeError"
    assert served.marker(req, "teardown") == "RuntimeError"
    assert served.rows(req) == []  # the two rows written while streaming were rolled back


@pytest.mark.slow
def test_served_stream_closes_its_generator_when_the_client_goes(served: Served) -> None:
    req = served.new_id()
    offset = served.log.stat().st_size
    started = time.monotonic()
    with _request(served.port, f"/stream?id={req}&rows={MAX_ROWS}&delay=0.01") as sock:
        received = b""
        for _ in range(1000):  # until the first line is in (bounded by the socket timeout too)
            received += sock.recv(4096)
            if line(0) in received:
                break
        assert line(0) in received
    # The client is gone: the server's next writes fail, and it must close the body.
    assert served.marker(req, "generator") == "closed"
    assert served.marker(req, "resource") == "rollback:ClientDisconnected"
    assert served.marker(req, "teardown") == "ClientDisconnected"
    assert time.monotonic() - started < MAX_ROWS * 0.01 / 2  # long before the stream would have ended
    assert served.rows(req) == []
    assert "Exception while streaming" not in _log_since(served, offset, req)  # a client going is no fault


@pytest.mark.slow
@pytest.mark.parametrize("served", CHUNKED, indirect=True)
def test_served_stream_whose_commit_fails_is_cut_short(served: Served) -> None:
    req = served.new_id()
    offset = served.log.stat().st_size
    status, data, complete = _body(_read_until_closed(_request(served.port, f"/stream?id={req}&rows=3&orphan=1")))
    assert status == 200 and data == line(0) + line(1) + line(2) and not complete  # no last chunk
    log = _log_since(served, offset, req)
    assert log.count("Exception while closing the resources of GET /stream [stream]") == 1, log
    assert "FOREIGN KEY constraint failed" in log
    assert served.marker(req, "resource") == "rollback:IntegrityError"
    assert served.marker(req, "teardown") == "IntegrityError"
    assert served.rows(req) == []


@pytest.mark.slow
def test_served_stream_read_to_the_end_commits(served: Served) -> None:
    """The control: the same stream, no fault."""
    req = served.new_id()
    sock = _request(served.port, f"/stream?id={req}&rows=3&sized=1")
    sock.shutdown(socket.SHUT_WR)  # no second request coming: let a keep-alive server close too
    status, data, complete = _body(_read_until_closed(sock))
    assert status == 200 and data == line(0) + line(1) + line(2) and complete
    assert served.marker(req, "teardown") == "None"
    assert served.marker(req, "resource") == "commit"
    assert served.rows(req) == ["row 0", "row 1", "row 2"]


class Abandoned(BaseException):
    """Like SystemExit from a gunicorn worker's timeout, or KeyboardInterrupt: not an error of the app."""


def test_base_exception_passes_through_after_a_clean_end(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No response is made for it and it goes on to the server, but the request still ends properly."""
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    abandoned = Abandoned("the worker is being stopped")

    def stopped_view() -> str:
        raise abandoned

    rig.body = stopped_view
    with caplog.at_level(logging.DEBUG, logger="microweb"), pytest.raises(Abandoned):
        rig.app.test_client().post("/write", data={"text": "the request's write"})
    assert rig.teardown_errors == [abandoned]
    assert rig.events == rig.events_at_teardown[0] == ["open", "close"]  # closed: SQLite drops the transaction
    assert rig.notes() == ["kept"]
    assert caplog.records == []  # the server reports it; for the app it is not a fault


def test_stream_closed_twice_is_torn_down_once(tmp_path: Path) -> None:
    """A server, or a middleware and its server, may both call close(): the request still ends once."""
    rig = _rig(tmp_path)
    _observe_teardown(rig)
    stream = Stream(rig, "/stream?rows=1000")
    next(stream.chunks)
    stream.close()
    stream.close()
    assert len(rig.teardown_errors) == 1
    assert rig.events == ["open", "rollback:ClientDisconnected", "close"]


@pytest.mark.slow
def test_gunicorn_worker_timeout_still_ends_the_request(tmp_path: Path) -> None:
    """gunicorn's arbiter aborts a sync worker stuck past --timeout: SystemExit, raised inside the view."""
    need_modules("gunicorn")
    (tmp_path / "markers").mkdir()
    env = {**os.environ, "FAULTS_DB": str(tmp_path / "db.sqlite3"), "FAULTS_MARKERS": str(tmp_path / "markers")}
    env["HOME"] = str(tmp_path)
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "1"]
    server = ServerProcess("gunicorn", [*argv, "faultapp:app"], tmp_path / "server.log", env=env, cwd=GATEWAYS)
    served = Served("gunicorn-timeout", port, tmp_path / "db.sqlite3", tmp_path / "markers", server.log)
    with running((server, port)):
        reply = _read_until_closed(_request(port, "/slow?id=stuck&seconds=20"))
        assert served.marker("stuck", "teardown") == "SystemExit"
    assert b"done" not in reply  # gunicorn answers a 500 of its own, or just closes
    assert served.rows("stuck") == []  # the row the view wrote was not committed
