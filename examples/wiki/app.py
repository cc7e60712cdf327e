"""Putting the wiki together: configuration, the blueprints, the database, templates, CSRF."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from microweb import App, Jinja2Templates, render
from microweb.csrf import protect

from . import models
from .admin import admin, is_admin
from .api import create_api
from .auth import auth
from .pages import pages

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE = f"sqlite:///{HERE / 'wiki.sqlite3'}"
#: The wiki's own settings, read from environment variables of the same names (comma-separated names).
LIST_SETTINGS = ("WIKI_ADMINS", "WIKI_API_ORIGINS")

logger = logging.getLogger("wiki")


def create_app(database_url: str | None = None, secret_key: str | None = None, **settings: Any) -> App:
    """The wiki app.

    :param database_url: any SQLAlchemy URL; default ``$DATABASE_URL``, else a
        SQLite file beside this package. The tables are created on first start.
    :param secret_key: signs the session cookie; default ``$SECRET_KEY``. Every
        process serving the wiki needs the same key, or sign-ins would not
        carry over from one to another.
    :param settings: config values, over those of the environment: ``WIKI_ADMINS``
        (the display names that may use ``/admin``) and ``WIKI_API_ORIGINS`` (the
        origins whose pages may call ``/api`` with the user's cookie), both lists.
    """
    secret_key = secret_key or os.environ.get("SECRET_KEY")
    if not secret_key:
        secret_key = secrets.token_hex(32)
        logger.warning("no SECRET_KEY set: sign-ins last until this process stops")
    templates = Jinja2Templates(HERE / "templates")
    templates.env.globals["is_admin"] = is_admin
    app = App(__name__, secret_key=secret_key, templates=templates)
    app.config.from_mapping({key: env_list(key) for key in LIST_SETTINGS}, **settings)
    app.config["ENGINE"] = models.connect(database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE)
    for blueprint in (pages, auth, admin, create_api(app.config["WIKI_API_ORIGINS"])):
        app.register_blueprint(blueprint)
    for code in (400, 403, 404):  # the CSRF check's 400 included
        app.errorhandler(code)(error_page)
    # Every POST and PUT must carry the session's CSRF token; over HTTPS, from this site or an API origin.
    protect(app, trusted_origins=app.config["WIKI_API_ORIGINS"])
    return app


def env_list(name: str) -> list[str]:
    """Environment variable ``name`` as a list: ``WIKI_ADMINS="Ann, Bob"`` is ``["Ann", "Bob"]``."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def error_page(error: Any) -> tuple[str, int]:
    """Errors in the wiki's own layout; the description says what went wrong (e.g. the CSRF check)."""
    return render("error.html", error=error), error.code
