"""A slow writer for the graceful-shutdown test (tests/test_load.py): each POST sleeps, then writes.

``POST /slow/<n>`` marks itself started (a file in ``$SLOWWRITE_STARTED``, so the test knows the
request is in flight), waits until the test creates the file ``release`` there (after gunicorn has
taken the SIGTERM), then inserts ``n`` into a real SQLite file through a request-scoped resource
that commits when the request succeeds. So the insert and the commit happen while gunicorn is
shutting down, however slow the machine: a gate, not a sleep, orders the two.
Served by the tests with gunicorn, ``--chdir`` this folder, ``slowwrite:app``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from microweb import App

DATABASE = os.environ["SLOWWRITE_DB"]
STARTED = Path(os.environ["SLOWWRITE_STARTED"])
RELEASE = STARTED / "release"
GATE_SECONDS = 60  # bounded: a test that died never releases the gate

with sqlite3.connect(DATABASE) as _conn:
    _conn.execute("CREATE TABLE IF NOT EXISTS writes (n INTEGER PRIMARY KEY, pid INTEGER)")
_conn.close()

app = App(__name__)


@app.resource
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(DATABASE, timeout=10)
    try:
        yield conn
        conn.commit()  # skipped when the request failed: closing rolls back
    finally:
        conn.close()


@app.post("/slow/<int:n>")
def slow(n: int) -> dict[str, int]:
    (STARTED / str(n)).touch()
    for _ in range(int(GATE_SECONDS / 0.02)):
        if RELEASE.exists():
            break
        time.sleep(0.02)
    db().execute("INSERT INTO writes (n, pid) VALUES (?, ?)", (n, os.getpid()))
    return {"n": n, "pid": os.getpid()}


@app.get("/writes")
def writes() -> list[int]:
    return [n for (n,) in db().execute("SELECT n FROM writes ORDER BY n")]
