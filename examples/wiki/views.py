"""The controllers: one method per page of the wiki, each reading or changing the model and picking a template.

They get the database session from the request-scoped resource handed to
:class:`Wiki`, the signed-in name from the session cookie, and render Jinja2
templates from ``templates/``. The URL table is :func:`register`.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy.orm import Session

from microweb import App, Response, abort, redirect, render, request, session, url_for
from microweb.csrf import rotate_csrf_token
from microweb.resources import Resource

from . import markup, models

MAX_TEXT = 100_000


def register(app: App, db: Resource[Session]) -> None:
    """Map the wiki's URLs to the controller's methods."""
    wiki = Wiki(db)
    app.add_route("/", wiki.home)
    app.add_route("/recent", wiki.recent)
    app.add_route("/search", wiki.find)
    app.add_route("/login", wiki.login, methods=["GET", "POST"])
    app.add_route("/logout", wiki.logout, methods=["POST"])
    app.add_route("/<name>", wiki.show)
    app.add_route("/<name>/edit", wiki.edit, methods=["GET", "POST"])
    app.add_route("/<name>/history", wiki.history)
    app.add_route("/<name>/revision/<int:number>", wiki.old_revision)
    app.add_route("/<name>/diff", wiki.diff)
    for code in (400, 404):  # the CSRF check's 400 included
        app.errorhandler(code)(error_page)


def error_page(error: Any) -> tuple[str, int]:
    """Errors in the wiki's own layout; the description says what went wrong (e.g. the CSRF check)."""
    return render("error.html", error=error), error.code


class Wiki:
    """The controller: each public method is the view function of one URL (see :func:`register`)."""

    def __init__(self, db: Resource[Session]) -> None:
        self.db = db

    # ------------------------------------------------------------ helpers

    def _html(self, text: str) -> Any:
        existing = models.existing_names(self.db(), markup.wiki_words(text))
        return markup.to_html(text, existing, lambda name: url_for("show", name=name))

    @staticmethod
    def _check_name(name: str) -> None:
        if not markup.is_page_name(name):
            abort(404, f"{name!r} is not a page name: page names are WikiWords, like FrontPage.")

    # ------------------------------------------------------------ reading

    def home(self) -> Response:
        return redirect(url_for("show", name="FrontPage"))

    def show(self, name: str) -> Any:
        self._check_name(name)
        current = models.revision(self.db(), name)
        if current is None:
            return render("missing.html", name=name), 404
        return render("page.html", name=name, rev=current, html=self._html(current.text))

    def old_revision(self, name: str, number: int) -> Any:
        rev = models.revision(self.db(), name, number)
        if rev is None:
            abort(404)
        return render("page.html", name=name, rev=rev, html=self._html(rev.text), old=True)

    def history(self, name: str) -> Any:
        page = models.find_page(self.db(), name)
        if page is None:
            abort(404)
        return render("history.html", name=name, revisions=page.revisions)

    def diff(self, name: str) -> Any:
        head = models.revision(self.db(), name)
        if head is None:
            abort(404)
        new_number = request.args.get("new", head.number, type=int)
        old_number = request.args.get("old", new_number - 1, type=int)
        old = models.revision(self.db(), name, old_number)
        new = models.revision(self.db(), name, new_number)
        if new is None or old_number < 0 or (old is None and old_number != 0):
            abort(404)
        lines = diff_lines(old.text if old else "", new.text)
        return render("diff.html", name=name, old=old, new=new, old_number=old_number, lines=lines)

    def recent(self) -> str:
        return render("recent.html", revisions=models.recent_changes(self.db()))

    def find(self) -> str:
        words = request.args.get("q", "")
        return render("search.html", q=words, results=models.search(self.db(), words))

    # ------------------------------------------------------------ signing in

    def login(self) -> Any:
        error = ""
        if request.method == "POST":
            user = " ".join(request.form.get("name", "").split())
            if 1 <= len(user) <= 40:
                session["user"] = user
                rotate_csrf_token()  # the token of the signed-out page (maybe planted or seen) stops working
                return redirect(_local(request.form.get("next", "")) or url_for("home"), 303)
            error = "A display name of 1 to 40 characters, please."
        next_url = _local(request.values.get("next", ""))
        return render("login.html", error=error, next=next_url), 400 if error else 200

    def logout(self) -> Response:
        session.pop("user", None)
        rotate_csrf_token()
        return redirect(url_for("home"), 303)

    # ------------------------------------------------------------ editing

    def edit(self, name: str) -> Any:
        self._check_name(name)
        if "user" not in session:
            return redirect(url_for("login", next=request.full_path.rstrip("?")), 303)
        if request.method == "GET":
            current = models.revision(self.db(), name)
            text, base = (current.text, current.number) if current else ("", 0)
            return render("edit.html", name=name, text=text, base=base, comment="")
        form = request.form
        text = form.get("text", "").replace("\r\n", "\n")
        base = form.get("base", 0, type=int)
        comment = form.get("comment", "").strip()[:200]
        if form.get("action") == "preview":
            preview = self._html(text)
            return render("edit.html", name=name, text=text, base=base, comment=comment, preview=preview)
        if not text.strip() or len(text) > MAX_TEXT:
            error = "A page needs some text." if not text.strip() else f"At most {MAX_TEXT} characters, please."
            return render("edit.html", name=name, text=text, base=base, comment=comment, error=error), 400
        try:
            models.save(self.db(), name, text, base, session["user"], comment)
        except models.EditConflict:
            return self._conflict(name, text, comment)
        return redirect(url_for("show", name=name), 303)

    def _conflict(self, name: str, text: str, comment: str) -> tuple[str, int]:
        """409: both versions side by side, and the form again, now based on the latest revision."""
        current = models.revision(self.db(), name)
        theirs = current.text if current else ""
        lines = diff_lines(theirs, text)
        base = current.number if current else 0
        page = render("conflict.html", name=name, current=current, text=text, comment=comment, base=base, lines=lines)
        return page, 409


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs; kind is ``add``, ``del``, ``hunk`` or ``same``."""
    kinds = {"+": "add", "-": "del", "@": "hunk", " ": "same"}
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2)
    return [(kinds[line[0]], line) for line in diff if not line.startswith(("---", "+++"))]


def _local(url: str) -> str:
    """``url`` if it stays on this site (a path), else "": never redirect elsewhere after signing in."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else ""
