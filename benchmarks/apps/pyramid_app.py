"""The scenarios in Pyramid: URL dispatch, a signed-cookie session factory, a NewResponse subscriber.

Pyramid answers a method its views do not accept with a 404 (no view
matched the predicates); a catch-all view on the route answers 405 instead,
so the scenario asks the same of every framework.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape
from string import Template
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPMethodNotAllowed
from pyramid.request import Request
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory

from .. import scenarios as sc
from ..wsgi import WSGIApp

with open(f"{sc.TEMPLATES}/page.html", encoding="utf-8") as _fh:
    _page = Template(_fh.read())


def hello(request: Request) -> Response:
    return Response("Hello, World!")


def not_allowed(request: Request) -> Response:
    return HTTPMethodNotAllowed()


def user(request: Request) -> dict[str, Any]:
    return sc.user_json(int(request.matchdict["uid"]))


def search(request: Request) -> Response:
    return Response(f"{request.GET['q']}:{request.GET['page']}")


def form(request: Request) -> Response:
    return Response(f"{request.POST['name']}:{request.POST['age']}")


def numbered(request: Request) -> Response:
    return Response(str(int(request.matchdict["x"])))


def cookie(request: Request) -> Response:
    return Response(request.cookies["theme"])


def login(request: Request) -> Response:
    request.session["user"] = "ann"
    return Response("ok")


def read_session(request: Request) -> Response:
    return Response(f"user={request.session['user']}")


def page(request: Request) -> Response:
    return Response(_page.substitute({k: escape(str(v)) for k, v in sc.TEMPLATE_CONTEXT.items()}))


def old(request: Request) -> Response:
    return HTTPFound(location="/new")


def big(request: Request) -> dict[str, Any]:
    return sc.BIG_JSON


def upload(request: Request) -> Response:
    file = request.POST["file"]
    with file.file as data:  # WebOb leaves the spooled upload open
        size = len(data.read())
    # ... and the temporary file it copied the 16 KiB body into, which it put in place of wsgi.input.
    request.add_finished_callback(lambda done: done.environ["wsgi.input"].close())
    return Response(f"{request.POST['title']}:{file.filename}:{size}")


def hooked(request: Request) -> Response:
    return Response("hooked")


def add_hook_header(event: NewResponse) -> None:
    event.response.headers["X-Hook"] = "yes"


VIEWS: dict[str, tuple[str, Any, str, str | None]] = {
    # route name: (pattern, view, method, renderer)
    "user": ("/users/{uid:\\d+}", user, "GET", "json"),
    "search": ("/search", search, "GET", None),
    "form": ("/form", form, "POST", None),
    "cookie": ("/cookie", cookie, "GET", None),
    "login": ("/login", login, "GET", None),
    "session": ("/session", read_session, "GET", None),
    "page": ("/page", page, "GET", None),
    "old": ("/old", old, "GET", None),
    "big": ("/big", big, "GET", "json"),
    "upload": ("/upload", upload, "POST", None),
}


# ---- issue 16's workload kinds


def _chunks() -> Iterator[bytes]:
    for chunk in sc.STREAM_CHUNKS:
        yield chunk.encode()


def stream(request: Request) -> Response:
    return Response(app_iter=_chunks(), content_type="text/plain")


def urls(request: Request) -> Response:
    built = []
    for i in range(5):
        built += [
            request.route_path("user", uid=i),
            request.route_path("repo", org="acme", repo=f"r{i}"),
            request.route_path("issue", org="acme", repo=f"r{i}", n=i),
            request.route_path("search", _query={"q": f"x{i}", "page": i}),
        ]
    return Response("\n".join(built))


def query40(request: Request) -> Response:
    return Response("|".join(request.GET[name] for name in sc.QUERY_40_READ))


def plain(request: Request) -> Response:
    return Response("Hello, World!", content_type="text/plain")


def json_body(request: Request) -> Response:
    return Response(sc.json_body_answer(request.json_body))


def target(request: Request) -> Response:
    return Response(sc.mixed_answer(request.matchdict))


def dashboard(request: Request) -> Response:
    return Response("dashboard")


def cookie_hooks_tween(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """A before hook reading a cookie and an after hook adding two headers: Pyramid's tween."""
    name, value = sc.HOOK_COOKIE

    def tween(request: Request) -> Response:
        if request.cookies.get(name) != value:
            return HTTPForbidden()
        response = handler(request)
        for header, text in sc.SECURITY_HEADERS:
            response.headers[header] = text
        return response

    return tween


def _kinds() -> WSGIApp:
    with Configurator() as config:
        for name, rule in sc.URL_TARGETS.items():
            config.add_route(name, sc.rule_in("pyramid", rule))
            config.add_view(target, route_name=name)
        for name, view in {"stream": stream, "urls": urls, "query40": query40, "plain": plain}.items():
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name, request_method="GET")
        config.add_route("json_body", "/json-body")
        config.add_view(json_body, route_name="json_body", request_method="POST")
        app: WSGIApp = config.make_wsgi_app()
        return app


def _mixed() -> WSGIApp:
    with Configurator() as config:
        for i, rule in enumerate(sc.MIXED_RULES):
            config.add_route(f"m{i}", sc.rule_in("pyramid", rule))
            config.add_view(target, route_name=f"m{i}")
        app: WSGIApp = config.make_wsgi_app()
        return app


def _cookie_hooks() -> WSGIApp:
    with Configurator() as config:
        config.add_route("dashboard", "/dashboard")
        config.add_view(dashboard, route_name="dashboard")
        config.add_tween(f"{__name__}.cookie_hooks_tween")
        app: WSGIApp = config.make_wsgi_app()
        return app


def _jinja_app() -> WSGIApp:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(sc.TEMPLATES), autoescape=jinja2.select_autoescape(["html"])
    )

    def jinja(request: Request) -> Response:
        return Response(env.get_template("page.jinja.html").render(sc.JINJA_CONTEXT))

    with Configurator() as config:
        config.add_route("jinja", "/jinja")
        config.add_view(jinja, route_name="jinja")
        app: WSGIApp = config.make_wsgi_app()
        return app


def build() -> dict[str, WSGIApp]:
    """The main app, the one with a NewResponse subscriber, and one with a Jinja2 view (if installed)."""
    with Configurator() as config:
        config.set_session_factory(SignedCookieSessionFactory(sc.SECRET, httponly=True))
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello", request_method="GET")
        config.add_view(not_allowed, route_name="hello")
        for name, (pattern, view, method, renderer) in VIEWS.items():
            config.add_route(name, pattern)
            config.add_view(view, route_name=name, request_method=method, renderer=renderer)
        for i in range(sc.N_ROUTES):
            config.add_route(f"r{i}", f"/r{i}/{{x:\\d+}}")
            config.add_view(numbered, route_name=f"r{i}")
        main = config.make_wsgi_app()
    with Configurator() as config:
        config.add_route("hooked", "/hooked")
        config.add_view(hooked, route_name="hooked")
        config.add_subscriber(add_hook_header, NewResponse)
        with_hook = config.make_wsgi_app()
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
    """``n`` static routes ``/s{i}`` and ``n`` dynamic routes ``/d{i}/{x:\\d+}``."""
    with Configurator() as config:
        for i in range(n):
            config.add_route(f"s{i}", f"/s{i}")
            config.add_view(hello, route_name=f"s{i}")
            config.add_route(f"d{i}", f"/d{i}/{{x:\\d+}}")
            config.add_view(numbered, route_name=f"d{i}")
        app: WSGIApp = config.make_wsgi_app()
    return app
