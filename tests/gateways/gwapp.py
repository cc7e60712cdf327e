"""The app every gateway test serves at ``/app``: one view per check, answers in JSON."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

from microweb import App, redirect, request, send_file, url_for
from microweb.serving import PrefixMiddleware, for_mod_python

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


def create_app() -> App:
    """The test app (a factory, so ``MODULE:create_app()`` targets are exercised too)."""
    app = App(__name__)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"page": "index", "url": url_for("index"), **_environ_facts()}

    @app.get("/env")
    def env() -> dict[str, Any]:
        return _environ_facts()

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


def create_proxied_app() -> Any:
    """The app behind exactly one trusted proxy (nginx): X-Forwarded-For/-Proto/-Host/-Prefix honoured."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = create_app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    return app


app = create_app()

#: For mod_python's WSGI handler: ``PythonOption mod_python.wsgi.application gwapp::mod_python_app``.
mod_python_app = for_mod_python(app)

#: For uWSGI's own HTTP socket: the app at ``/app``, and a 404 elsewhere (``module = gwapp:prefixed_app``).
prefixed_app = PrefixMiddleware(app, "/app")
