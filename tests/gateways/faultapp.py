"""The app the fault tests serve through real servers: streamed bodies that write to SQLite and leave markers.

Set by the environment: ``FAULTS_DB``, a SQLite file (tables made here), and
``FAULTS_MARKERS``, a folder. Each request names itself with ``?id=``; the rows
it writes carry that id, and its generator, its resource and its teardown hook
each write a marker file ``<id>.<what>``, which the test, another process,
reads.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from microweb import App, Response, request

# Read with defaults so that the tests can import line() and SECRET without serving anything.
DB = os.environ.get("FAULTS_DB", "")
MARKERS = Path(os.environ.get("FAULTS_MARKERS", "."))
SECRET = "s3cret-stream-fault"
MAX_ROWS = 3000  # every stream ends on its own, whatever the test does


def line(i: int) -> bytes:
    """Line ``i`` of a streamed body."""
    return f"row {i:04d}\n".encode()


def mark(what: str, text: str) -> None:
    """Write the marker ``<id>.<what>`` whole (rename), so a reader never sees half of one."""
    name = f"{request.args['id']}.{what}"
    (MARKERS / f"{name}.tmp").write_text(text)
    os.replace(MARKERS / f"{name}.tmp", MARKERS / name)


def _schema() -> None:
    conn = sqlite3.connect(DB)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (req TEXT NOT NULL, text TEXT NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)"
        )
    conn.close()


if DB:
    _schema()
app = App(__name__)


@app.resource
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(DB, timeout=10)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        yield conn
        conn.commit()
        mark("resource", "commit")
    except Exception as exc:
        conn.rollback()
        mark("resource", f"rollback:{type(exc).__name__}")
        raise
    finally:
        conn.close()


@app.teardown_request
def teardown(error: BaseException | None) -> None:
    mark("teardown", type(error).__name__ if error is not None else "None")


@app.get("/stream")
def stream() -> Response:
    """``?rows=N`` lines (each also a row in the database), ``?fail_at=N`` raises at line N,
    ``?delay=S`` seconds between lines, ``?sized=1`` sends a Content-Length, ``?orphan=1`` fails the commit."""
    rows = min(request.args.get("rows", 5, type=int), MAX_ROWS)
    fail_at = request.args.get("fail_at", type=int)
    delay = request.args.get("delay", 0.0, type=float)
    req = request.args["id"]

    def generate() -> Iterator[bytes]:
        try:
            for i in range(rows):
                if i == fail_at:
                    raise RuntimeError(f"{SECRET} at row {i} of {req}")
                db().execute("INSERT INTO notes VALUES (?, ?)", (req, f"row {i}"))
                yield line(i)
                time.sleep(delay)
            if "orphan" in request.args:
                db().execute("INSERT INTO children VALUES (42)")  # no parent 42: the commit fails
        except GeneratorExit:
            mark("generator", "closed")
            raise
        except Exception as exc:
            mark("generator", f"raised:{type(exc).__name__}")
            raise
        mark("generator", "finished")

    response = Response(generate(), mimetype="text/plain")
    if "sized" in request.args:
        response.headers["Content-Length"] = str(rows * len(line(0)))
    return response


@app.get("/slow")
def slow() -> str:
    """Writes a row, then takes ``?seconds=S`` (at most 30): for a server's worker timeout."""
    db().execute("INSERT INTO notes VALUES (?, ?)", (request.args["id"], "slow"))
    for _ in range(int(min(request.args.get("seconds", 1.0, type=float), 30.0) * 10)):
        time.sleep(0.1)
    return "done"
