"""The scenarios in Flask, with its signed-cookie session and Jinja2 templates."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from string import Template
from typing import Any

from flask import Blueprint, Flask, Response, redirect, render_template, request, session, url_for

from .. import scenarios as sc
from ..wsgi import WSGIApp

with open(f"{sc.TEMPLATES}/page.html", encoding="utf-8") as _fh:
    _page = Template(_fh.read())


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
    return _page.substitute({k: escape(str(v)) for k, v in sc.TEMPLATE_CONTEXT.items()})


def jinja() -> str:
    return render_template("page.jinja.html", **sc.JINJA_CONTEXT)


def old() -> Any:
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


def query40() -> str:
    args = request.args
    return "|".join(args[name] for name in sc.QUERY_40_READ)


def plain() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


def json_body() -> str:
    return sc.json_body_answer(request.json)


def target(**params: Any) -> str:
    return sc.mixed_answer(params)


def _kinds() -> Flask:
    app = Flask(__name__)
    for endpoint, rule in sc.URL_TARGETS.items():
        app.add_url_rule(rule, endpoint, target)
    app.add_url_rule("/stream", view_func=stream)
    app.add_url_rule("/urls", view_func=urls)
    app.add_url_rule("/query40", view_func=query40)
    app.add_url_rule("/plain", view_func=plain)
    app.add_url_rule("/json-body", view_func=json_body, methods=["POST"])
    return app


def _mixed() -> Flask:
    app = Flask(__name__)
    for i, rule in enumerate(sc.MIXED_RULES):
        app.add_url_rule(rule, f"m{i}", target)
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


def _cookie_hooks() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/dashboard", view_func=dashboard)
    app.before_request(check_cookie)
    app.after_request(add_security_headers)
    return app


def build() -> dict[str, WSGIApp]:
    """The main app (it renders Jinja2 too) and the one with an after_request hook."""
    app = Flask(__name__, template_folder=sc.TEMPLATES)
    app.secret_key = sc.SECRET
    views: dict[str, Any] = {
        "/": hello,
        "/users/<int:uid>": user,
        "/search": search,
        "/cookie": cookie,
        "/login": login,
        "/session": read_session,
        "/page": page,
        "/jinja": jinja,
        "/old": old,
        "/big": big,
    }
    for path, view in views.items():
        app.add_url_rule(path, view_func=view)
    app.add_url_rule("/form", view_func=form, methods=["POST"])
    app.add_url_rule("/upload", view_func=upload, methods=["POST"])
    for i in range(sc.N_ROUTES):
        app.add_url_rule(f"/r{i}/<int:x>", f"r{i}", numbered)
    with_hook = Flask(__name__)
    with_hook.add_url_rule("/hooked", view_func=hooked)
    with_hook.after_request(add_hook_header)
    return {
        "main": app,
        "jinja2": app,
        "hooked": with_hook,
        **_guarded(),
        "kinds": _kinds(),
        "mixed": _mixed(),
        "cookie_hooks": _cookie_hooks(),
    }


def guarded() -> str:
    return "guarded"


def check_token() -> Any:
    return None if request.headers.get("X-Token") == "ok" else ("no", 403)


def _guarded() -> dict[str, WSGIApp]:
    """The same before hook and route on the app, and on a blueprint."""
    on_app = Flask(__name__)
    on_app.add_url_rule("/guarded", view_func=guarded)
    on_app.before_request(check_token)
    blueprint = Blueprint("bp", __name__, url_prefix="/bp")
    blueprint.add_url_rule("/guarded", view_func=guarded)
    blueprint.before_request(check_token)
    on_blueprint = Flask(__name__)
    on_blueprint.register_blueprint(blueprint)
    return {"before_hooked": on_app, "blueprint": on_blueprint}


def build_routes(n: int) -> WSGIApp:
    """``n`` static routes ``/s{i}`` and ``n`` dynamic routes ``/d{i}/<int:x>``."""
    app = Flask(__name__)
    for i in range(n):
        app.add_url_rule(f"/s{i}", f"s{i}", hello)
        app.add_url_rule(f"/d{i}/<int:x>", f"d{i}", numbered)
    return app
