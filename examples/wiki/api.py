"""The ``api`` blueprint at ``/api``: the pages as JSON, for scripts and for pages of other origins.

``GET /api/pages`` lists the pages; ``GET /api/pages/<name>`` is one page's current
revision; ``PUT /api/pages/<name>`` with ``{"text", "base", "comment"}`` saves a
new revision (signed in, with the ``X-CSRF-Token`` header from ``GET /api/session``),
or answers 409 when ``base`` is no longer the latest, as the edit form does.
Errors are JSON too: ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from werkzeug.exceptions import HTTPException

from microweb import Blueprint, abort, request, session, url_for
from microweb.cors import allow_cors
from microweb.csrf import csrf_token
from microweb.views import MethodView

from . import models
from .db import db
from .pages import check_name, text_problem


def create_api(origins: Iterable[str]) -> Blueprint:
    """The API blueprint; pages of ``origins`` may call it with the user's cookie (none: same origin only).

    One blueprint per app, as each app has its own origins.
    """
    api = Blueprint("api", __name__, url_prefix="/api")
    api.add_route("/session", whoami)
    api.add_route("/pages", PageListAPI.as_view("pages"))
    api.add_route("/pages/<name>", PageAPI.as_view("page"))
    api.errorhandler(HTTPException)(json_error)
    origins = list(origins)
    if origins:
        allow_cors(api, origins=origins, credentials=True, headers=["Content-Type", "X-CSRF-Token"])
    return api


def json_error(error: HTTPException) -> tuple[dict[str, Any], int]:
    """The API's errors as JSON (the HTML error page is for browsers on the site)."""
    return {"error": error.description}, error.code or 500


def whoami() -> dict[str, Any]:
    """Who is signed in, and the CSRF token a PUT must send in ``X-CSRF-Token``."""
    return {"user": session.get("user"), "csrf_token": csrf_token()}


def revision_json(rev: models.Revision) -> dict[str, Any]:
    return {
        "name": rev.page.name,
        "revision": rev.number,
        "text": rev.text,
        "author": rev.author,
        "comment": rev.comment,
        "created": utc(rev.created).isoformat(),
        "url": url_for("api.page", name=rev.page.name),
    }


def utc(moment: datetime) -> datetime:
    """``moment`` with its time zone, UTC: SQLite gives back the stored UTC time without one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class PageListAPI(MethodView):
    """``GET /api/pages``: every page's name, latest revision and URL."""

    def get(self) -> dict[str, Any]:
        listed = [
            {"name": rev.page.name, "revision": rev.number, "url": url_for("api.page", name=rev.page.name)}
            for rev in models.all_pages(db())
        ]
        return {"pages": listed}


class PageAPI(MethodView):
    """``GET`` a page's current revision, ``PUT`` a new one."""

    def get(self, name: str) -> dict[str, Any]:
        check_name(name)
        current = models.revision(db(), name)
        if current is None:
            abort(404, f"There is no page {name} yet: PUT one with base 0.")
        return revision_json(current)

    def put(self, name: str) -> tuple[dict[str, Any], int]:
        check_name(name)
        user = session.get("user")
        if user is None:
            abort(401, "Sign in first (POST /login): saving needs a signed-in session.")
        text, base, comment = edit_from_body()
        try:
            saved = models.save(db(), name, text, base, user, comment)
        except models.EditConflict:
            current = models.revision(db(), name)
            body = {"error": f"{name} was changed since revision {base}: merge and PUT again with its base."}
            return {**body, "current": revision_json(current) if current else None}, 409
        return revision_json(saved), 201 if base == 0 else 200


def edit_from_body() -> tuple[str, int, str]:
    """``text``, ``base`` and ``comment`` of a PUT's JSON body; a 400 that says what is wrong otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'Send a JSON object: {"text": "...", "base": 3, "comment": "..."}.')
    text, base, comment = body.get("text"), body.get("base"), body.get("comment", "")
    if not isinstance(text, str) or not isinstance(comment, str):
        abort(400, '"text" (and "comment", if given) must be strings.')
    if isinstance(base, bool) or not isinstance(base, int) or base < 0:
        abort(400, '"base" is the revision the edit started from: 0 for a new page, else a positive number.')
    problem = text_problem(text)
    if problem:
        abort(400, problem)
    return text.replace("\r\n", "\n"), base, comment.strip()[:200]
