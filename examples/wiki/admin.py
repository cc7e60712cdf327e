"""The ``admin`` blueprint at ``/admin``: every page, and deleting one, for the names in ``WIKI_ADMINS`` only."""

from __future__ import annotations

from typing import Any

from microweb import Blueprint, Response, abort, current_app, flash, redirect, render, session, url_for

from . import models
from .auth import sign_in_first
from .db import db

admin = Blueprint("admin", __name__, url_prefix="/admin")


def is_admin() -> bool:
    """Whether the signed-in user is one of ``WIKI_ADMINS`` (templates call it too, for the header's link)."""
    return session.get("user") in current_app.config["WIKI_ADMINS"]


@admin.before_request
def admins_only() -> Response | None:
    """Signed-out visitors go to the sign-in page; signed-in ones not in ``WIKI_ADMINS`` get a 403."""
    user = session.get("user")
    if user is None:
        return sign_in_first()
    if not is_admin():
        abort(403, f"Only the wiki's admins may go here, and {user} is not one (see WIKI_ADMINS).")
    return None


@admin.get("/")
def index() -> str:
    return render("admin.html", pages=models.all_pages(db()))


@admin.post("/<name>/delete")
def delete(name: str) -> Any:
    if not models.delete_page(db(), name):
        abort(404, f"There is no page {name!r} to delete.")
    flash(f"Deleted {name} and its history.")
    return redirect(url_for(".index"), 303)
