"""Putting the wiki together: configuration, the database session per request, templates, CSRF."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session

from microweb import App, Jinja2Templates
from microweb.csrf import protect

from . import models, views

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE = f"sqlite:///{HERE / 'wiki.sqlite3'}"

logger = logging.getLogger("wiki")


def create_app(database_url: str | None = None, secret_key: str | None = None) -> App:
    """The wiki app.

    :param database_url: any SQLAlchemy URL; default ``$DATABASE_URL``, else a
        SQLite file beside this package. The tables are created on first start.
    :param secret_key: signs the session cookie; default ``$SECRET_KEY``. Every
        process serving the wiki needs the same key, or sign-ins would not
        carry over from one to another.
    """
    secret_key = secret_key or os.environ.get("SECRET_KEY")
    if not secret_key:
        secret_key = secrets.token_hex(32)
        logger.warning("no SECRET_KEY set: sign-ins last until this process stops")
    app = App(__name__, secret_key=secret_key, templates=Jinja2Templates(HERE / "templates"))
    engine = models.connect(database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE)
    app.config["ENGINE"] = engine

    @app.resource
    def db() -> Iterator[Session]:
        """One ORM session per request: committed if the request succeeded, rolled back if not."""
        with Session(engine) as session:
            yield session
            session.commit()  # skipped when the request failed: closing the session rolls back

    views.register(app, db)
    protect(app)  # every POST must carry the session's CSRF token
    return app
