"""The scenarios in microweb, written the way its manual teaches."""

from __future__ import annotations

from typing import Any

from microweb import App, Blueprint, Jinja2Templates, Response, StringTemplates, redirect, render, request, session

from .. import scenarios as sc
from ..wsgi import WSGIApp


def hello() -> str:
    return "Hello, World!"


def user(uid: int) -> dict[str, Any]:
    return sc.user_json(uid)


def search() -> str:
    return f"{request.args['q']}:{request.args['page']}"


def form() -> str:
    return f"{request.form['name']}:{request.form['age']}"


def numbered(x: int) -> str:
    return str(x)


def cookie() -> str:
    return request.cookies["theme"]


def login() -> str:
    session["user"] = "ann"
    return "ok"


def read_session() -> str:
    return f"user={session['user']}"


def page() -> str:
    return render("page.html", **sc.TEMPLATE_CONTEXT)


def jinja() -> str:
    return render("page.jinja.html", **sc.JINJA_CONTEXT)


def old() -> Response:
    return redirect("/new")


def big() -> dict[str, Any]:
    return sc.BIG_JSON


def upload() -> str:
    file = request.files["file"]
    return f"{request.form['title']}:{file.filename}:{len(file.read())}"


def hooked() -> str:
    return "hooked"


def add_hook_header(response: Response) -> Response:
    response.headers["X-Hook"] = "yes"
    return response


def guarded() -> str:
    return "guarded"


def check_token() -> Any:
    return None if request.headers.get("X-Token") == "ok" else ("no", 403)


def _guarded() -> dict[str, WSGIApp]:
    """The same before hook and route on the app, and on a blueprint."""
    on_app = App(__name__)
    on_app.add_route("/guarded", guarded)
    on_app.before_request(check_token)
    blueprint = Blueprint("bp", __name__, url_prefix="/bp")
    blueprint.add_route("/guarded", guarded)
    blueprint.before_request(check_token)
    on_blueprint = App(__name__)
    on_blueprint.register_blueprint(blueprint)
    return {"before_hooked": on_app, "blueprint": on_blueprint}


def _main() -> App:
    app = App(__name__, secret_key=sc.SECRET, templates=StringTemplates(sc.TEMPLATES))
    app.add_route("/", hello)
    app.add_route("/users/<int:uid>", user)
    app.add_route("/search", search)
    app.add_route("/form", form, methods=["POST"])
    app.add_route("/cookie", cookie)
    app.add_route("/login", login)
    app.add_route("/session", read_session)
    app.add_route("/page", page)
    app.add_route("/old", old)
    app.add_route("/big", big)
    app.add_route("/upload", upload, methods=["POST"])
    for i in range(sc.N_ROUTES):
        app.add_route(f"/r{i}/<int:x>", numbered, endpoint=f"r{i}")
    return app


def build() -> dict[str, WSGIApp]:
    """The main app, the one with an after-request hook, and the Jinja2 one (if Jinja2 is installed)."""
    with_hook = App(__name__)
    with_hook.add_route("/hooked", hooked)
    with_hook.after_request(add_hook_header)
    apps: dict[str, WSGIApp] = {"main": _main(), "hooked": with_hook, **_guarded()}
    try:
        with_jinja = App(__name__, templates=Jinja2Templates(sc.TEMPLATES))
    except ImportError:
        return apps
    with_jinja.add_route("/jinja", jinja)
    apps["jinja2"] = with_jinja
    return apps


def build_routes(n: int) -> WSGIApp:
    """``n`` static routes ``/s{i}`` and ``n`` dynamic routes ``/d{i}/<int:x>``."""
    app = App(__name__)
    for i in range(n):
        app.add_route(f"/s{i}", hello, endpoint=f"s{i}")
        app.add_route(f"/d{i}/<int:x>", numbered, endpoint=f"d{i}")
    return app
