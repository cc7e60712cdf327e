"""The scenarios in microweb, written the way its manual teaches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from microweb import (
    App,
    Blueprint,
    Jinja2Templates,
    Response,
    StringTemplates,
    redirect,
    render,
    request,
    session,
    url_for,
)

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


# ---- issue 16's workload kinds


def stream() -> Iterator[str]:
    yield from sc.STREAM_CHUNKS


def urls() -> str:
    built = []
    for i in range(5):
        built += [
            url_for("user", uid=i),
            url_for("repo", org="acme", repo=f"r{i}"),
            url_for("issue", org="acme", repo=f"r{i}", n=i),
            url_for("search", q=f"x{i}", page=i),
        ]
    return "\n".join(built)


def urls_by_hand() -> str:
    return sc.hand_urls()


def query40() -> str:
    args = request.args
    return "|".join(args[name] for name in sc.QUERY_40_READ)


def plain() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


def json_body() -> str:
    return sc.json_body_answer(request.json)


def target(**params: Any) -> str:
    return sc.mixed_answer(params)


def _kinds() -> App:
    app = App(__name__)
    for endpoint, rule in sc.URL_TARGETS.items():
        app.add_route(rule, target, endpoint=endpoint)
    app.add_route("/stream", stream)
    app.add_route("/urls", urls)
    app.add_route("/urls/hand", urls_by_hand)
    app.add_route("/query40", query40)
    app.add_route("/plain", plain)
    app.add_route("/json-body", json_body, methods=["POST"])
    return app


def _mixed() -> App:
    app = App(__name__)
    for i, rule in enumerate(sc.MIXED_RULES):
        app.add_route(rule, target, endpoint=f"m{i}")
    return app


def dashboard() -> str:
    return "dashboard"


def check_cookie() -> Any:
    name, value = sc.HOOK_COOKIE
    return None if request.cookies.get(name) == value else ("no", 403)


def add_security_headers(response: Response) -> Response:
    for name, value in sc.SECURITY_HEADERS:
        response.headers[name] = value
    return response


def _cookie_hooks() -> App:
    app = App(__name__)
    app.add_route("/dashboard", dashboard)
    app.before_request(check_cookie)
    app.after_request(add_security_headers)
    return app


def build() -> dict[str, WSGIApp]:
    """The main app, the one with an after-request hook, and the Jinja2 one (if Jinja2 is installed)."""
    with_hook = App(__name__)
    with_hook.add_route("/hooked", hooked)
    with_hook.after_request(add_hook_header)
    apps: dict[str, WSGIApp] = {
        "main": _main(),
        "hooked": with_hook,
        **_guarded(),
        "kinds": _kinds(),
        "mixed": _mixed(),
        "cookie_hooks": _cookie_hooks(),
    }
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
