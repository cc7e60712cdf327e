"""The project every gateway test deploys at ``/app``: one view per check, answers in JSON.

The servers import it through the app module their configs name, ``conf/gwapp.py`` (the file the
docs show), which builds it with the settings the server passed: ``create_app(settings)``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

from microweb import App, redirect, request, send_file, url_for

#: The streamed body: numbered lines, so a lost or repeated chunk shows.
STREAM_CHUNKS = 200
SECRET = "s3cret-detail-that-must-not-leak"


def stream_line(i: int) -> bytes:
    """Line ``i`` of the streamed body."""
    return f"chunk {i:04d} ".encode() + b"x" * 500 + b"\n"


def _environ_facts() -> dict[str, Any]:
    env = request.environ
    keys = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "REMOTE_ADDR")
    facts: dict[str, Any] = {key.lower(): env.get(key) for key in keys}
    for key in ("script_name", "path_info"):  # WSGI strings carry the URL's bytes as latin-1
        facts[key] = (facts[key] or "").encode("latin-1").decode("utf-8", "replace")
    facts["mod_wsgi_process_group"] = env.get("mod_wsgi.process_group")
    facts["multithread"] = env.get("wsgi.multithread")
    facts["url_scheme"] = env.get("wsgi.url_scheme")
    facts["pid"] = os.getpid()
    facts["python"] = sys.version.split()[0]
    facts["mod_python"] = "mod_python" in sys.modules
    facts["uwsgi"] = "uwsgi.version" in env
    facts["cookie_size"] = len(request.cookies.get("big", ""))
    with open("/proc/self/cmdline", "rb") as cmdline:  # what ps shows: mod_wsgi renames its daemons
        facts["argv0"] = cmdline.read().split(b"\0")[0].decode(errors="replace")
    return facts


def this_file() -> Any:
    """This very file, by ``send_file`` (the test reads it too): ranges, 304 and HEAD through each gateway."""
    return send_file(os.path.abspath(__file__), mimetype="text/plain")


def settings_facts(app: App) -> dict[str, Any]:
    """What the app was given: the database URL, and the key's digest (the key itself is never shown)."""
    key = app.config["SECRET_KEY"]
    return {
        "secret_key_sha256": hashlib.sha256(key.encode()).hexdigest() if isinstance(key, str) else None,
        "database_url": app.config["DATABASE_URL"],
    }


def _add_visits(app: App) -> None:
    """``POST /visits``: a write to the database the settings name (its folder: writable by the server's user)."""

    @app.resource
    def db() -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///"), timeout=10)
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    @app.post("/visits")
    def visit() -> dict[str, int]:
        db().execute("CREATE TABLE IF NOT EXISTS visits (n INTEGER)")
        db().execute("INSERT INTO visits VALUES (1)")
        return {"visits": db().execute("SELECT count(*) FROM visits").fetchone()[0]}


def create_app(settings: dict[str, Any]) -> App:
    """The test app, with its settings (``SECRET_KEY``, ``DATABASE_URL``: a ``sqlite:///`` URL)."""
    app = App(__name__)
    app.config.from_mapping(settings)
    _add_visits(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"page": "index", "url": url_for("index"), **_environ_facts()}

    @app.get("/env")
    def env() -> dict[str, Any]:
        return {**_environ_facts(), **settings_facts(app)}

    @app.get("/echo/<seg>")
    def echo(seg: str) -> dict[str, Any]:
        args = dict(request.args)
        return {
            "seg": seg,
            "args": args,
            "url": url_for("echo", seg=seg, **args),
            "external": url_for("echo", seg=seg, _external=True),
            **_environ_facts(),
        }

    @app.post("/form")
    def form() -> dict[str, Any]:
        return {"form": dict(request.form), "content_length": request.content_length}

    @app.post("/json")
    def json_body() -> dict[str, Any]:
        return {"json": request.get_json()}

    @app.get("/go")
    def go() -> Any:
        return redirect(url_for("target"))

    @app.get("/target")
    def target() -> dict[str, str]:
        return {"page": "target"}

    @app.get("/stream")
    def stream() -> Iterator[bytes]:
        return (stream_line(i) for i in range(STREAM_CHUNKS))

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError(SECRET)
    app.add_route("/file", this_file)

    return app
