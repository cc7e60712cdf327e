"""The scenarios in Bottle, with its own signed cookies for the session."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from string import Template
from typing import Any

import bottle
from bottle import redirect, request, response

from .. import scenarios as sc
from ..wsgi import WSGIApp

with open(f"{sc.TEMPLATES}/page.html", encoding="utf-8") as _fh:
    _page = Template(_fh.read())


def hello() -> str:
    return "Hello, World!"


def user(uid: int) -> dict[str, Any]:
    return sc.user_json(uid)


def search() -> str:
    return f"{request.query['q']}:{request.query['page']}"


def form() -> str:
    return f"{request.forms['name']}:{request.forms['age']}"


def numbered(x: int) -> str:
    return str(x)


def cookie() -> str:
    return str(request.get_cookie("theme"))


def login() -> str:
    # Bottle's signed cookies hold one value; a str, since pickled objects are deprecated.
    response.set_cookie("session", "ann", secret=sc.SECRET, httponly=True)
    return "ok"


def read_session() -> str:
    return f"user={request.get_cookie('session', secret=sc.SECRET)}"


def page() -> str:
    return _page.substitute({k: escape(str(v)) for k, v in sc.TEMPLATE_CONTEXT.items()})


def old() -> None:
    redirect("/new", 302)  # Bottle answers 303 to HTTP/1.1 by default


def big() -> dict[str, Any]:
    return sc.BIG_JSON


def upload() -> str:
    file = request.files["file"]
    return f"{request.forms['title']}:{file.raw_filename}:{len(file.file.read())}"


def hooked() -> str:
    return "hooked"


def add_hook_header() -> None:
    response.set_header("X-Hook", "yes")


# ---- issue 16's workload kinds


def stream() -> Iterator[str]:
    yield from sc.STREAM_CHUNKS


def query40() -> str:
    # getunicode: Bottle's item access gives the latin-1 view of the bytes.
    return "|".join(str(request.query.getunicode(name)) for name in sc.QUERY_40_READ)


def plain() -> bottle.HTTPResponse:
    return bottle.HTTPResponse("Hello, World!", headers={"Content-Type": "text/plain"})


def json_body() -> str:
    return sc.json_body_answer(request.json)


def target(**params: Any) -> str:
    return sc.mixed_answer(params)


def _kinds() -> bottle.Bottle:
    app = bottle.Bottle()
    for endpoint, rule in sc.URL_TARGETS.items():
        app.route(sc.rule_in("bottle", rule), name=endpoint, callback=target)

    def urls() -> str:
        built = []
        for i in range(5):
            built += [
                app.get_url("user", uid=i),
                app.get_url("repo", org="acme", repo=f"r{i}"),
                app.get_url("issue", org="acme", repo=f"r{i}", n=i),
                app.get_url("search", q=f"x{i}", page=i),
            ]
        return "\n".join(built)

    for path, view in {"/stream": stream, "/urls": urls, "/query40": query40, "/plain": plain}.items():
        app.route(path, callback=view)
    app.post("/json-body", callback=json_body)
    return app


def _mixed() -> bottle.Bottle:
    app = bottle.Bottle()
    for rule in sc.MIXED_RULES:
        app.route(sc.rule_in("bottle", rule), callback=target)
    return app


def dashboard() -> str:
    return "dashboard"


def check_cookie() -> None:
    name, value = sc.HOOK_COOKIE
    if request.get_cookie(name) != value:
        bottle.abort(403, "no")


def add_security_headers() -> None:
    for name, value in sc.SECURITY_HEADERS:
        response.set_header(name, value)


def _cookie_hooks() -> bottle.Bottle:
    app = bottle.Bottle()
    app.route("/dashboard", callback=dashboard)
    app.add_hook("before_request", check_cookie)
    app.add_hook("after_request", add_security_headers)
    return app


def _jinja_app() -> WSGIApp:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(sc.TEMPLATES), autoescape=jinja2.select_autoescape(["html"])
    )
    app = bottle.Bottle()
    app.route("/jinja", callback=lambda: env.get_template("page.jinja.html").render(sc.JINJA_CONTEXT))
    wsgi: WSGIApp = app
    return wsgi


def build() -> dict[str, WSGIApp]:
    """The main app, the one with an after_request hook, and one with a Jinja2 view (if installed)."""
    main = bottle.Bottle()
    for path, view in {
        "/": hello,
        "/users/<uid:int>": user,
        "/search": search,
        "/cookie": cookie,
        "/login": login,
        "/session": read_session,
        "/page": page,
        "/old": old,
        "/big": big,
    }.items():
        main.route(path, callback=view)
    main.post("/form", callback=form)
    main.post("/upload", callback=upload)
    for i in range(sc.N_ROUTES):
        main.route(f"/r{i}/<x:int>", callback=numbered)
    with_hook = bottle.Bottle()
    with_hook.route("/hooked", callback=hooked)
    with_hook.add_hook("after_request", add_hook_header)
    apps: dict[str, WSGIApp] = {
        "main": main,
        "hooked": with_hook,
        "kinds": _kinds(),
        "mixed": _mixed(),
        "cookie_hooks": _cookie_hooks(),
    }
    try:
        apps["jinja2"] = _jinja_app()
    except ImportError:
        pass
    return apps


def build_routes(n: int) -> WSGIApp:
    """``n`` static routes ``/s{i}`` and ``n`` dynamic routes ``/d{i}/<x:int>``."""
    app = bottle.Bottle()
    for i in range(n):
        app.route(f"/s{i}", callback=hello)
        app.route(f"/d{i}/<x:int>", callback=numbered)
    wsgi: WSGIApp = app
    return wsgi
