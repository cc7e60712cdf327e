"""Persistence in an object database: notes kept as Python objects in ZODB.

Run it with ``python examples/zodb_notes.py`` (http://127.0.0.1:8000/, data in
``notes.fs``, or the file ``NOTES_FS`` names; ``pip install ZODB``).

No tables and no SQL: the app changes ordinary (persistent) Python objects
and ZODB stores what changed. Each request is one transaction, through a
request-scoped resource: committed when the request succeeded, aborted when
it failed, so a failed request leaves the objects as they were. A
``FileStorage`` is one file that a single process opens: to run several
processes, put a ZEO server in front of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import transaction
import ZODB
import ZODB.FileStorage
from persistent import Persistent
from persistent.list import PersistentList

from microweb import App, abort, request


class Note(Persistent):
    """A stored object: assigning to its attributes marks it changed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.likes = 0


def create_app(path: str | None = None) -> App:
    app = App(__name__)
    storage = ZODB.FileStorage.FileStorage(path or os.environ.get("NOTES_FS", "notes.fs"))
    db = ZODB.DB(storage)
    app.config["ZODB"] = db  # so its owner can close it (db.close()) when done

    @app.resource
    def root() -> Iterator[Any]:
        # A transaction manager of our own: one transaction per request, whichever thread runs it.
        manager = transaction.TransactionManager()
        conn = db.open(manager)
        try:
            manager.begin()
            tree = conn.root()
            if "notes" not in tree:
                tree["notes"] = PersistentList()
            yield tree
            manager.commit()
        except BaseException:
            manager.abort()
            raise
        finally:
            conn.close()

    @app.get("/notes")
    def list_notes() -> list[dict[str, Any]]:
        return [{"id": n, "text": note.text, "likes": note.likes} for n, note in enumerate(root()["notes"])]

    @app.post("/notes")
    def add_note() -> tuple[dict[str, Any], int]:
        text = request.form.get("text", "").strip()
        notes = root()["notes"]
        notes.append(Note(text))
        if not text:
            abort(400, "A note needs some text.")  # the transaction is aborted: no empty note
        return {"id": len(notes) - 1, "text": text}, 201

    @app.post("/notes/<int:note_id>/like")
    def like(note_id: int) -> dict[str, Any]:
        notes = root()["notes"]
        if not 0 <= note_id < len(notes):
            abort(404)
        notes[note_id].likes += 1
        return {"id": note_id, "likes": notes[note_id].likes}

    return app


if __name__ == "__main__":
    create_app().run()
