"""The app the hostile-input tests attack: a route for every Werkzeug converter and every kind of body.

Served in process by ``tests/test_hostile.py`` and by gunicorn in ``tests/test_hostile_server.py``
(``hostile_support.app:create_app()``). Its limits are small, so generated requests reach them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from microweb import App, Response, redirect, request, session

SECRET = "hostile-test-secret-0123456789abcdef"
MAX_CONTENT_LENGTH = 64 * 1024
MAX_FORM_MEMORY_SIZE = 2048
MAX_FORM_PARTS = 20
STATIC = Path(__file__).parent / "static"


def create_app(hooks: bool = False) -> App:
    """The app; ``hooks=True`` adds before/after hooks and a 404 handler, which take it off the fast paths."""
    app = App(__name__, secret_key=SECRET, max_content_length=MAX_CONTENT_LENGTH, static_folder=STATIC)
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_FORM_MEMORY_SIZE
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    _add_path_routes(app)
    _add_number_routes(app)
    _add_body_routes(app)
    _add_state_routes(app)
    if hooks:
        _add_hooks(app)
    return app


def _add_path_routes(app: App) -> None:
    @app.get("/")
    def index() -> str:
        return "home"

    @app.route("/s/<name>", methods=["GET", "POST"])
    def string(name: str) -> dict[str, Any]:
        return {"name": name}

    @app.get("/p/<path:rest>")
    def path(rest: str) -> dict[str, Any]:
        return {"rest": rest}

    @app.get("/u/<uuid:uid>")
    def uuid(uid: UUID) -> dict[str, Any]:
        return {"uuid": str(uid)}

    @app.get("/a/<any(red, green):colour>")
    def colour(colour: str) -> dict[str, Any]:
        return {"colour": colour}

    @app.get("/len/<string(length=3):code>/")
    def code(code: str) -> dict[str, Any]:
        return {"code": code}

    @app.get("/q")
    def query() -> dict[str, Any]:
        return {"args": request.args.to_dict(flat=False), "headers": dict(request.headers)}


def _add_number_routes(app: App) -> None:
    @app.get("/i/<int:n>")
    def integer(n: int) -> dict[str, Any]:
        return {"double": n * 2}

    @app.get("/r/<int(min=1, max=99, signed=True):n>")
    def ranged(n: int) -> dict[str, Any]:
        return {"n": n}

    @app.get("/f/<float:x>")
    def real(x: float) -> dict[str, Any]:
        return {"x": x}


def _add_body_routes(app: App) -> None:
    @app.post("/json")
    def json_body() -> dict[str, Any]:
        return {"json": request.json}

    @app.route("/json/silent", methods=["POST", "PUT"])
    def json_silent() -> dict[str, Any]:
        return {"json": request.get_json(silent=True)}

    @app.route("/form", methods=["POST", "PUT", "PATCH"])
    def form() -> dict[str, Any]:
        return {"form": request.form.to_dict(flat=False)}

    @app.post("/upload")
    def upload() -> dict[str, Any]:
        files = {name: [f.filename, len(f.read())] for name, f in request.files.items(multi=True)}
        return {"files": files, "form": request.form.to_dict(flat=False)}

    @app.route("/data", methods=["POST", "PUT", "DELETE"])
    def data() -> dict[str, Any]:
        return {"length": len(request.get_data()), "type": request.mimetype}


def _add_state_routes(app: App) -> None:
    @app.get("/cookies")
    def cookies() -> Response:
        # A cookie value taken from the request: Werkzeug quotes it, nothing breaks out of Set-Cookie.
        response = Response(repr(request.cookies.to_dict()), mimetype="text/plain")
        response.set_cookie("seen", request.args.get("v", ""))
        return response

    @app.route("/session", methods=["GET", "POST"])
    def visits() -> dict[str, Any]:
        session["visits"] = session.get("visits", 0) + 1
        session["note"] = request.args.get("note", "")
        return {"visits": session["visits"]}

    @app.get("/go")
    def go() -> Response:
        # A local redirect target from the query string, as login pages do with ?next=.
        target = request.args.get("next", "/")
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            target = "/"
        return redirect(target)


def _add_hooks(app: App) -> None:
    @app.before_request
    def look() -> None:
        request.args.get("anything")  # parses the query string of every request, matched or not

    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[dict[str, Any], int]:
        return {"missing": request.path}, 404
