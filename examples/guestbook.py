"""A one-file bulletin board: plain sqlite3 through ``@app.resource``, pages from ``StringTemplates``.

Nothing beyond microweb and the standard library::

    python examples/guestbook.py                 # http://127.0.0.1:8000/, data in guestbook.sqlite3

``GUESTBOOK_DB`` names another database file. The templates are the two
small files in ``guestbook_templates/``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from microweb import App, StringTemplates, redirect, render, request, url_for

HERE = Path(__file__).parent
MAX_NAME, MAX_MESSAGE = 40, 500

app = App(__name__, templates=StringTemplates(HERE / "guestbook_templates"))
app.config["DATABASE"] = os.environ.get("GUESTBOOK_DB", "guestbook.sqlite3")


class HTML(str):
    """Markup we built ourselves from escaped parts: StringTemplates inserts it as it is."""

    def __html__(self) -> str:
        return self


@app.resource
def db() -> Iterator[sqlite3.Connection]:
    """One connection per request: committed if the request succeeded, rolled back if not."""
    conn = sqlite3.connect(app.config["DATABASE"])
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS messages ("
            " id INTEGER PRIMARY KEY, name TEXT NOT NULL, text TEXT NOT NULL, posted TEXT NOT NULL)"
        )
        yield conn
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


def validate(name: str, text: str) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the form is fine."""
    errors = {}
    if not name:
        errors["name"] = "Please give a name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters, please."
    if not text:
        errors["text"] = "The message is empty."
    elif len(text) > MAX_MESSAGE:
        errors["text"] = f"At most {MAX_MESSAGE} characters, please ({len(text)} now)."
    return errors


def page(name: str = "", text: str = "", errors: dict[str, str] | None = None) -> str:
    """The board: the form (with any errors next to their fields), then the messages, newest first."""
    errors = errors or {}
    rows = db().execute("SELECT name, text, posted FROM messages ORDER BY id DESC").fetchall()
    messages = HTML("".join(render("message.html", name=n, text=t, posted=p) for n, t, p in rows))
    return render(
        "page.html",
        action=url_for("post"),
        name=name,
        text=text,
        name_error=errors.get("name", ""),
        text_error=errors.get("text", ""),
        count=len(rows),
        messages=messages or HTML("<p>No messages yet: be the first.</p>"),
    )


@app.get("/")
def index() -> str:
    return page()


@app.post("/")
def post() -> object:
    name = request.form.get("name", "").strip()
    text = request.form.get("text", "").strip()
    errors = validate(name, text)
    if errors:
        return page(name, text, errors), 400  # the form again, as typed, with the reasons
    posted = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    db().execute("INSERT INTO messages (name, text, posted) VALUES (?, ?, ?)", (name, text, posted))
    return redirect(url_for("index"), 303)  # so a reload does not post it twice


if __name__ == "__main__":
    app.run()
