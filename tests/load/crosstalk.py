"""An app that echoes what it knows about the current request, for the cross-talk test (tests/test_load.py).

Each client sends its own id in the path, the query string, a header, the form body and (after
its first request) its session. The view reads those one by one, with short sleeps in between so
that the dev server's threads interleave, and through a request-scoped resource opened from the
request's header. If any of request, session or resource state leaked between concurrent requests,
some field of an answer would carry another client's id. The session counter catches a lost or
crossed session write; ``/stats`` tells whether every resource opened was also closed.

Served by the tests with ``python -m microweb run crosstalk:app`` from this folder.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from microweb import App, request, session, url_for

app = App(__name__, secret_key="crosstalk-test-secret-0123456789")
_lock = threading.Lock()
_counts = {"opened": 0, "closed": 0}


def pause() -> None:
    """Give up the GIL for a moment so another request's thread runs in between."""
    time.sleep(random.uniform(0, 0.002))


@app.resource
def mine() -> Iterator[dict[str, str]]:
    """A per-request value made from the request it was opened in."""
    with _lock:
        _counts["opened"] += 1
    try:
        yield {"client": request.headers.get("X-Client", "")}
    finally:
        with _lock:
            _counts["closed"] += 1


@app.get("/start/<client>")
def start(client: str) -> dict[str, Any]:
    session["client"] = client
    session["count"] = 0
    return {"client": client}


@app.post("/echo/<client>")
def echo(client: str) -> dict[str, Any]:
    box = mine()
    seen: dict[str, Any] = {"path": client}
    pause()
    seen["query"] = request.args.get("client")
    pause()
    seen["header"] = request.headers.get("X-Client")
    pause()
    seen["form"] = request.form.get("client")
    pause()
    seen["session"] = session.get("client")
    pause()
    seen["resource"] = mine()["client"] if mine() is box else "another object"
    seen["url"] = url_for("echo", client=client)
    session["count"] = session.get("count", 0) + 1
    seen["count"] = session["count"]
    return seen


@app.get("/stats")
def stats() -> dict[str, int]:
    with _lock:
        return dict(_counts)
