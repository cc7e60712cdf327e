"""The ORM session of one request, for every blueprint: committed if the request succeeded, rolled back if not."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from microweb import current_app
from microweb.resources import Resource


def _session() -> Iterator[Session]:
    # The engine is the app's (config["ENGINE"]), so one module-level resource serves every app.
    with Session(current_app.config["ENGINE"]) as session:
        yield session
        session.commit()  # skipped when the request failed: closing the session rolls back


#: ``db()`` in a view: this request's session, opened on first use.
db: Resource[Session] = Resource(_session)
