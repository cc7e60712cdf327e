"""The ``pages`` blueprint: reading, editing and comparing pages, at the site's root (``/FrontPage``, ...).

Each view reads or changes the model through this request's ORM session
(:data:`db.db`), and renders a Jinja2 template from ``templates/``.
"""

from __future__ import annotations

import difflib
from typing import Any

from microweb import Blueprint, Response, abort, flash, redirect, render, request, session, url_for

from . import markup, models
from .auth import sign_in_first
from .db import db

MAX_TEXT = 100_000

pages = Blueprint("pages", __name__)


def page_html(text: str) -> Any:
    """``text`` as HTML, its WikiWords linked (and marked when the page does not exist yet)."""
    existing = models.existing_names(db(), markup.wiki_words(text))
    return markup.to_html(text, existing, lambda name: url_for("pages.show", name=name))


def check_name(name: str) -> None:
    if not markup.is_page_name(name):
        abort(404, f"{name!r} is not a page name: page names are WikiWords, like FrontPage.")


# ---------------------------------------------------------------- reading


@pages.get("/")
def home() -> Response:
    return redirect(url_for(".show", name="FrontPage"))


@pages.get("/<name>")
def show(name: str) -> Any:
    check_name(name)
    current = models.revision(db(), name)
    if current is None:
        return render("missing.html", name=name), 404
    return render("page.html", name=name, rev=current, html=page_html(current.text))


@pages.get("/<name>/revision/<int:number>")
def revision(name: str, number: int) -> Any:
    rev = models.revision(db(), name, number)
    if rev is None:
        abort(404)
    return render("page.html", name=name, rev=rev, html=page_html(rev.text), old=True)


@pages.get("/<name>/history")
def history(name: str) -> Any:
    page = models.find_page(db(), name)
    if page is None:
        abort(404)
    return render("history.html", name=name, revisions=page.revisions)


@pages.get("/<name>/diff")
def diff(name: str) -> Any:
    head = models.revision(db(), name)
    if head is None:
        abort(404)
    new_number = request.args.get("new", head.number, type=int)
    old_number = request.args.get("old", new_number - 1, type=int)
    old = models.revision(db(), name, old_number)
    new = models.revision(db(), name, new_number)
    if new is None or old_number < 0 or (old is None and old_number != 0):
        abort(404)
    lines = diff_lines(old.text if old else "", new.text)
    return render("diff.html", name=name, old=old, new=new, old_number=old_number, lines=lines)


@pages.get("/recent")
def recent() -> str:
    return render("recent.html", revisions=models.recent_changes(db()))


@pages.get("/search")
def search() -> str:
    words = request.args.get("q", "")
    return render("search.html", q=words, results=models.search(db(), words))


# ---------------------------------------------------------------- editing


@pages.route("/<name>/edit", methods=["GET", "POST"])
def edit(name: str) -> Any:
    check_name(name)
    if "user" not in session:
        return sign_in_first()
    if request.method == "GET":
        current = models.revision(db(), name)
        text, base = (current.text, current.number) if current else ("", 0)
        return render("edit.html", name=name, text=text, base=base, comment="")
    form = request.form
    text = form.get("text", "").replace("\r\n", "\n")
    base = form.get("base", 0, type=int)
    comment = form.get("comment", "").strip()[:200]
    if form.get("action") == "preview":
        return render("edit.html", name=name, text=text, base=base, comment=comment, preview=page_html(text))
    error = text_problem(text)
    if error:
        return render("edit.html", name=name, text=text, base=base, comment=comment, error=error), 400
    try:
        saved = models.save(db(), name, text, base, session["user"], comment)
    except models.EditConflict:
        return conflict(name, text, comment)
    flash(f"Saved revision {saved.number}.")
    return redirect(url_for(".show", name=name), 303)


def text_problem(text: str) -> str:
    """Why ``text`` cannot be saved as a page, or "" (shared with the API)."""
    if not text.strip():
        return "A page needs some text."
    return f"At most {MAX_TEXT} characters, please." if len(text) > MAX_TEXT else ""


def conflict(name: str, text: str, comment: str) -> tuple[str, int]:
    """409: both versions side by side, and the form again, now based on the latest revision."""
    current = models.revision(db(), name)
    theirs = current.text if current else ""
    lines = diff_lines(theirs, text)
    base = current.number if current else 0
    page = render("conflict.html", name=name, current=current, text=text, comment=comment, base=base, lines=lines)
    return page, 409


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs; kind is ``add``, ``del``, ``hunk`` or ``same``."""
    kinds = {"+": "add", "-": "del", "@": "hunk", " ": "same"}
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2)
    return [(kinds[line[0]], line) for line in lines if not line.startswith(("---", "+++"))]
