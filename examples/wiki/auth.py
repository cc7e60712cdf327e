"""The ``auth`` blueprint: signing in with a display name, and out (at ``/login`` and ``/logout``)."""

from __future__ import annotations

from typing import Any

from microweb import Blueprint, Response, flash, redirect, render, request, session, url_for
from microweb.csrf import rotate_csrf_token

auth = Blueprint("auth", __name__)


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = ""
    if request.method == "POST":
        user = " ".join(request.form.get("name", "").split())
        if 1 <= len(user) <= 40:
            session["user"] = user
            rotate_csrf_token()  # the token of the signed-out page (maybe planted or seen) stops working
            flash(f"Signed in as {user}.")
            return redirect(local(request.form.get("next", "")) or url_for("pages.home"), 303)
        error = "A display name of 1 to 40 characters, please."
    next_url = local(request.values.get("next", ""))
    return render("login.html", error=error, next=next_url), 400 if error else 200


@auth.post("/logout")
def logout() -> Response:
    session.pop("user", None)
    rotate_csrf_token()
    flash("Signed out.")
    return redirect(url_for("pages.home"), 303)


def sign_in_first() -> Response:
    """To the sign-in page, and back to this page afterwards."""
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), 303)


def local(url: str) -> str:
    """``url`` if it stays on this site (a path), else "": never redirect elsewhere after signing in."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else ""
