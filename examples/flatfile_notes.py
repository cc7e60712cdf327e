"""Persistence without a database server: notes kept in a JSON file, one request at a time.

Run it with ``python examples/flatfile_notes.py`` (http://127.0.0.1:8000/,
data in ``notes-data/notes.json``, or the folder ``NOTES_DIR`` names).

The store is a request-scoped resource. A request holds an exclusive lock
(``fcntl.flock``, so other processes wait too), reads the file, and writes it
back only if the request succeeded. Writing goes to a temporary file in the
same folder, flushed to disk, then renamed over the old one: a rename is
atomic, so a crash leaves either the old file or the new one, never half a
file. A request that fails writes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from microweb import App, abort, request


def load(path: Path) -> dict[str, Any]:
    """The stored data, or an empty store if there is no file yet."""
    try:
        with open(path, encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
            return data
    except FileNotFoundError:
        return {"notes": []}


def save_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON so that ``path`` always holds a whole file, old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename makes it the real file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    # The rename is only durable once the folder's entry is on disk too.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_app(folder: str | os.PathLike[str] | None = None) -> App:
    app = App(__name__)
    folder = Path(folder or os.environ.get("NOTES_DIR", "notes-data"))
    folder.mkdir(parents=True, exist_ok=True)
    data_file, lock_file = folder / "notes.json", folder / "notes.lock"

    @app.resource
    def store() -> Iterator[dict[str, Any]]:
        with open(lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, whatever happens
            data = load(data_file)
            before = json.dumps(data, sort_keys=True)
            yield data  # an exception here (the request failed) skips the save
            if json.dumps(data, sort_keys=True) != before:
                save_atomically(data_file, data)

    @app.get("/notes")
    def list_notes() -> list[str]:
        return list(store()["notes"])

    @app.post("/notes")
    def add_note() -> tuple[dict[str, Any], int]:
        text = request.form.get("text", "").strip()
        notes = store()["notes"]
        notes.append(text)
        if not text:
            abort(400, "A note needs some text.")  # the append above is never saved
        return {"saved": text, "count": len(notes)}, 201

    return app


if __name__ == "__main__":
    create_app().run()
