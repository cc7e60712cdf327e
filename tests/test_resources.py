"""Request-scoped resources: opened lazily, reused, committed or rolled back, always closed."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.exceptions import ServiceUnavailable

from microweb import App, abort, request
from microweb.testing import TestClient


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")
    conn.close()
    return path


@pytest.fixture
def db_app(db_path: Path) -> tuple[App, list[str]]:
    """An app with a SQLite connection per request; `events` records the resource's life."""
    app = App(__name__)
    events: list[str] = []

    @app.resource
    def db() -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(db_path)
        events.append("open")
        try:
            yield conn
            conn.commit()
            events.append("commit")
        except Exception as exc:
            conn.rollback()
            events.append(f"rollback:{type(exc).__name__}")
            raise
        finally:
            conn.close()
            events.append("close")

    @app.post("/notes")
    def add() -> dict[str, int]:
        db().execute("INSERT INTO notes VALUES (?)", (request.form["text"],))
        assert db() is db()  # one connection per request
        _fail_if_asked(request.form.get("fail"))
        return {"count": db().execute("SELECT count(*) FROM notes").fetchone()[0]}

    @app.get("/notes")
    def list_notes() -> list[str]:
        return [row[0] for row in db().execute("SELECT text FROM notes ORDER BY rowid")]

    @app.get("/stream")
    def stream() -> Any:
        def rows() -> Iterator[str]:
            for (text,) in db().execute("SELECT text FROM notes ORDER BY rowid"):
                yield text + "\n"

        return rows()

    @app.get("/plain")
    def plain() -> str:
        return "no database here"

    app.config["db"] = db
    return app, events


def _fail_if_asked(how: str | None) -> None:
    """Fail after a half-done write, the way the test asks."""
    if how == "view":
        raise RuntimeError("after a half-done write")
    if how == "abort":
        abort(409)


def _notes(db_path: Path) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY rowid")]
    finally:
        conn.close()


def test_commit_on_success_visible_right_after_the_request(db_app: tuple[App, list[str]], db_path: Path) -> None:
    app, events = db_app
    client = app.test_client()
    assert client.post("/notes", data={"text": "first"}).json == {"count": 1}
    assert events == ["open", "commit", "close"]
    assert _notes(db_path) == ["first"]


@pytest.mark.parametrize(("fail", "status", "error"), [("view", 500, "RuntimeError"), ("abort", 409, "Conflict")])
def test_rollback_on_error_leaves_nothing_half_written(
    db_app: tuple[App, list[str]], db_path: Path, fail: str, status: int, error: str
) -> None:
    app, events = db_app
    client = app.test_client()
    assert client.post("/notes", data={"text": "kept"}).status_code == 200
    events.clear()
    assert client.post("/notes", data={"text": "lost", "fail": fail}).status_code == status
    assert events == ["open", f"rollback:{error}", "close"]
    assert _notes(db_path) == ["kept"]


def test_never_opened_when_not_used(db_app: tuple[App, list[str]]) -> None:
    app, events = db_app
    assert app.test_client().get("/plain").status_code == 200
    assert events == []


@pytest.fixture
def streaming(db_app: tuple[App, list[str]]) -> tuple[Any, list[str]]:
    """Two notes saved, then a streamed listing of them started (and not yet read)."""
    app, events = db_app
    client = app.test_client()
    client.post("/notes", data={"text": "a"})
    client.post("/notes", data={"text": "b"})
    events.clear()
    return client.get("/stream", buffered=False), events


def test_streaming_keeps_the_resource_open_until_the_body_is_closed(streaming: tuple[Any, list[str]]) -> None:
    response, events = streaming
    assert "close" not in events
    assert response.get_data(as_text=True) == "a\nb\n"
    response.close()
    assert events == ["open", "commit", "close"]


def test_stream_closed_early_rolls_back(streaming: tuple[Any, list[str]]) -> None:
    response, events = streaming
    next(iter(response.response))  # the client reads a little, then goes away
    response.close()
    assert events == ["open", "rollback:ClientDisconnected", "close"]


def _write_elsewhere(db_path: Path) -> None:
    """A write from another connection, as another request would make it (with a short busy timeout)."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=0.2)) as other, other:
        other.execute("INSERT INTO notes VALUES ('meanwhile')")


def test_a_stalled_stream_over_a_cursor_holds_the_read_lock_and_writes_fail(
    streaming: tuple[Any, list[str]], db_path: Path
) -> None:
    # What SECURITY.md and the manual say: a client that stops reading keeps the cursor, and so SQLite's
    # read lock; in the default journal mode no write can commit until the stream ends.
    response, _ = streaming
    assert next(iter(response.response)) == b"a\n"  # then the client stops reading
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        _write_elsewhere(db_path)
    response.close()
    _write_elsewhere(db_path)  # the stream has ended: writes go through again
    assert _notes(db_path) == ["a", "b", "meanwhile"]


def test_a_stalled_stream_of_rows_read_first_holds_no_lock(db_app: tuple[App, list[str]], db_path: Path) -> None:
    app, _ = db_app

    @app.get("/read-first")
    def read_first() -> Any:
        rows = db().execute("SELECT text FROM notes ORDER BY rowid").fetchall()  # the manual's recipe
        return (text + "\n" for (text,) in rows)

    db = app.config["db"]
    client = app.test_client()
    client.post("/notes", data={"text": "a"})
    client.post("/notes", data={"text": "b"})
    response = client.get("/read-first", buffered=False)
    assert next(iter(response.response)) == b"a\n"  # then the client stops reading
    _write_elsewhere(db_path)
    response.close()
    assert _notes(db_path) == ["a", "b", "meanwhile"]


def test_resource_outside_a_request_is_a_clear_error(db_app: tuple[App, list[str]]) -> None:
    app, _ = db_app
    with pytest.raises(RuntimeError, match="resource 'db' is only available while a request"):
        app.config["db"]()


def test_failing_commit_is_not_reported_as_success(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = App()
    finished: list[BaseException | None] = []
    app.teardown_request(finished.append)

    @app.resource
    def store() -> Iterator[list[str]]:
        yield []
        raise OSError("disk full during commit")

    app.add_route("/", lambda: f"saved {len(store())}", endpoint="v")
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = app.test_client().get("/")
    assert response.status_code == 500
    assert "disk full" not in response.get_data(as_text=True)
    assert "disk full during commit" in caplog.text
    assert isinstance(finished[0], OSError)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Another connection holding an EXCLUSIVE lock on the database for the duration."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def _unavailable_app(db_file: Path, audit_file: Path) -> tuple[App, list[BaseException | None]]:
    """A view that writes to `audit`, then needs `db`, whose opening takes the write lock at once."""
    app = App()
    teardown_errors: list[BaseException | None] = []
    app.teardown_request(teardown_errors.append)

    def sqlite_resource(path: Path) -> Any:
        def factory() -> Iterator[sqlite3.Connection]:
            conn = sqlite3.connect(path, timeout=0.1, isolation_level=None)  # explicit transactions
            try:
                conn.execute("BEGIN IMMEDIATE")  # locked or missing: fails here, before any work is done
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()

        factory.__name__ = path.stem
        return app.resource(factory)

    audit, db = sqlite_resource(audit_file), sqlite_resource(db_file)

    @app.post("/notes")
    def add() -> str:
        audit().execute("INSERT INTO notes VALUES ('audit: a note is being added')")
        db().execute("INSERT INTO notes VALUES (?)", (request.form["text"],))
        return "saved"

    return app, teardown_errors


@pytest.mark.parametrize("cause", ["locked", "missing_directory"])
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_resource_that_cannot_open_is_a_clear_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cause: str, accept: str
) -> None:
    audit_file = tmp_path / "audit.sqlite3"
    with sqlite3.connect(audit_file) as conn:
        conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")
    conn.close()
    db_file = tmp_path / "db.sqlite3" if cause == "locked" else tmp_path / "no-such-directory" / "db.sqlite3"
    if cause == "locked":
        with sqlite3.connect(db_file) as conn:
            conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")
        conn.close()
    app, teardown_errors = _unavailable_app(db_file, audit_file)
    client = app.test_client()

    with caplog.at_level(logging.DEBUG, logger="microweb"):
        with _locked(db_file) if cause == "locked" else contextlib.nullcontext():
            response = client.post("/notes", data={"text": "lost"}, headers={"Accept": accept})

    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "A resource this page needs is unavailable right now; please try again shortly." in body
    for leak in ("locked", "unable to open", "sqlite", "OperationalError", "Traceback", str(tmp_path)):
        assert leak not in body
    if accept == "application/json":
        assert response.json["error"]["code"] == 503
    (record,) = caplog.records  # logged once, as what it is; the 503 it became is not logged again
    assert record.getMessage() == "Resource 'db' could not be opened"
    assert record.exc_info is not None and record.exc_info[0] is sqlite3.OperationalError
    assert "Traceback (most recent call last)" in caplog.text
    assert isinstance(teardown_errors[0], ServiceUnavailable)
    # Nothing half-written: the audit row written before the failure was rolled back.
    assert _notes(audit_file) == []
    if cause == "locked":  # and once the lock is gone, the same request goes through
        assert client.post("/notes", data={"text": "kept"}).status_code == 200
        assert (_notes(audit_file), _notes(db_file)) == (["audit: a note is being added"], ["kept"])


def test_resources_finish_in_reverse_order_and_all_roll_back_when_one_commit_fails() -> None:
    app = App()
    events: list[str] = []

    def make(name: str, fail_commit: bool = False) -> Any:
        def factory() -> Iterator[str]:
            try:
                yield name
                if fail_commit:
                    raise OSError(f"{name} commit failed")
                events.append(f"commit {name}")
            except Exception:
                events.append(f"rollback {name}")
                raise

        factory.__name__ = name
        return app.resource(factory)

    first, second = make("first"), make("second", fail_commit=True)
    app.add_route("/", lambda: first() + second(), endpoint="v")
    assert app.test_client().get("/").status_code == 500
    assert events == ["rollback second", "rollback first"]


def test_generator_that_yields_twice_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    app = App()

    @app.resource
    def twice() -> Iterator[int]:
        yield 1
        yield 2

    app.add_route("/", lambda: str(twice()), endpoint="v")
    with caplog.at_level(logging.ERROR, logger="microweb"):
        assert app.test_client().get("/").status_code == 500
    assert "yielded more than once" in caplog.text


def test_resource_keeps_its_type_and_docstring() -> None:
    app = App()

    @app.resource
    def counter() -> Iterator[int]:
        """A counter."""
        yield 0

    assert counter.__doc__ == "A counter."
    assert counter.name == "counter"


def test_client_fixture_unused_resource(app: App, client: TestClient) -> None:
    @app.resource
    def thing() -> Iterator[int]:
        yield 1

    @app.get("/")
    def view() -> str:
        return "x" if request.args.get("use") is None else str(thing())

    assert client.get("/").data == b"x"
    assert client.get("/?use=1").data == b"1"
