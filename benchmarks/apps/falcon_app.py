"""The scenarios in Falcon: resource classes, a middleware for the hook, itsdangerous for the session.

Falcon has no sessions or templating of its own; its views use the same
itsdangerous serializer and template engines as the raw floor.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from string import Template
from typing import Any

import falcon
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import scenarios as sc
from ..wsgi import WSGIApp

Req = falcon.Request
Resp = falcon.Response

_serializer = URLSafeTimedSerializer(sc.SECRET, salt="bench.session")
with open(f"{sc.TEMPLATES}/page.html", encoding="utf-8") as _fh:
    _page = Template(_fh.read())


def _text(resp: Resp, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
    resp.text = text
    resp.content_type = content_type


class Hello:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, "Hello, World!")


class User:
    def on_get(self, req: Req, resp: Resp, uid: int) -> None:
        resp.media = sc.user_json(uid)


class Search:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, f"{req.get_param('q')}:{req.get_param('page')}")


class Form:
    def on_post(self, req: Req, resp: Resp) -> None:
        fields = req.get_media()
        _text(resp, f"{fields['name']}:{fields['age']}")


class Numbered:
    def on_get(self, req: Req, resp: Resp, x: int) -> None:
        _text(resp, str(x))


class Cookie:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, req.cookies["theme"])


class Login:
    def on_get(self, req: Req, resp: Resp) -> None:
        resp.set_cookie("session", _serializer.dumps({"user": "ann"}), secure=False)
        _text(resp, "ok")


class Session:
    def on_get(self, req: Req, resp: Resp) -> None:
        try:
            data = _serializer.loads(req.cookies.get("session", ""), max_age=3600)
        except BadSignature:
            data = {}
        _text(resp, f"user={data.get('user')}")


class Page:
    def on_get(self, req: Req, resp: Resp) -> None:
        html = _page.substitute({k: escape(str(v)) for k, v in sc.TEMPLATE_CONTEXT.items()})
        _text(resp, html, "text/html; charset=utf-8")


class Old:
    def on_get(self, req: Req, resp: Resp) -> None:
        raise falcon.HTTPFound("/new")


class Big:
    def on_get(self, req: Req, resp: Resp) -> None:
        resp.media = sc.BIG_JSON


class Upload:
    def on_post(self, req: Req, resp: Resp) -> None:
        title = filename = ""
        size = 0
        for part in req.get_media():
            if part.name == "title":
                title = part.text
            elif part.name == "file":
                filename = part.filename
                size = len(part.stream.read())
        _text(resp, f"{title}:{filename}:{size}")


class Hooked:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, "hooked")


class AddHookHeader:
    def process_response(self, req: Req, resp: Resp, resource: Any, req_succeeded: bool) -> None:
        resp.set_header("X-Hook", "yes")


class Jinja:
    def __init__(self) -> None:
        import jinja2

        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(sc.TEMPLATES), autoescape=jinja2.select_autoescape(["html"])
        )

    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, self.env.get_template("page.jinja.html").render(sc.JINJA_CONTEXT), "text/html; charset=utf-8")


# ---- issue 16's workload kinds


def _chunks() -> Iterator[bytes]:
    for chunk in sc.STREAM_CHUNKS:
        yield chunk.encode()


class Stream:
    def on_get(self, req: Req, resp: Resp) -> None:
        resp.content_type = "text/plain; charset=utf-8"
        resp.stream = _chunks()


class Urls:
    """Falcon has no URL building: its users format URLs by hand."""

    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, sc.hand_urls())


class Query40:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, "|".join(str(req.get_param(name)) for name in sc.QUERY_40_READ))


class Plain:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, "Hello, World!", "text/plain")


class JSONBody:
    def on_post(self, req: Req, resp: Resp) -> None:
        _text(resp, sc.json_body_answer(req.get_media()))


class Target:
    def on_get(self, req: Req, resp: Resp, **params: Any) -> None:
        _text(resp, sc.mixed_answer(params))


class Dashboard:
    def on_get(self, req: Req, resp: Resp) -> None:
        _text(resp, "dashboard")


class CookieHooks:
    """A before hook reading a cookie and an after hook adding two headers: Falcon's middleware."""

    def process_request(self, req: Req, resp: Resp) -> None:
        name, value = sc.HOOK_COOKIE
        if req.cookies.get(name) != value:
            raise falcon.HTTPForbidden()

    def process_response(self, req: Req, resp: Resp, resource: Any, req_succeeded: bool) -> None:
        for name, value in sc.SECURITY_HEADERS:
            resp.set_header(name, value)


def _kinds() -> WSGIApp:
    app = falcon.App()
    target = Target()
    for rule in sc.URL_TARGETS.values():
        app.add_route(sc.rule_in("falcon", rule), target)
    for path, resource in {
        "/stream": Stream(),
        "/urls": Urls(),
        "/query40": Query40(),
        "/plain": Plain(),
        "/json-body": JSONBody(),
    }.items():
        app.add_route(path, resource)
    return app


def _mixed() -> WSGIApp:
    app = falcon.App()
    target = Target()
    for rule in sc.MIXED_RULES:
        app.add_route(sc.rule_in("falcon", rule), target)
    return app


def _cookie_hooks() -> WSGIApp:
    app = falcon.App(middleware=[CookieHooks()])
    app.add_route("/dashboard", Dashboard())
    return app


ROUTES: dict[str, Any] = {
    "/": Hello(),
    "/users/{uid:int}": User(),
    "/search": Search(),
    "/form": Form(),
    "/cookie": Cookie(),
    "/login": Login(),
    "/session": Session(),
    "/page": Page(),
    "/old": Old(),
    "/big": Big(),
    "/upload": Upload(),
}


def build() -> dict[str, WSGIApp]:
    """The main app, the one with a response middleware, and one with a Jinja2 view (if installed)."""
    main = falcon.App()
    for path, resource in ROUTES.items():
        main.add_route(path, resource)
    numbered = Numbered()
    for i in range(sc.N_ROUTES):
        main.add_route(f"/r{i}/{{x:int}}", numbered)
    hooked = falcon.App(middleware=[AddHookHeader()])
    hooked.add_route("/hooked", Hooked())
    apps: dict[str, WSGIApp] = {
        "main": main,
        "hooked": hooked,
        "kinds": _kinds(),
        "mixed": _mixed(),
        "cookie_hooks": _cookie_hooks(),
    }
    try:
        jinja = Jinja()
    except ImportError:
        return apps
    apps["jinja2"] = falcon.App()
    apps["jinja2"].add_route("/jinja", jinja)  # type: ignore[attr-defined]
    return apps


def build_routes(n: int) -> WSGIApp:
    """``n`` static routes ``/s{i}`` and ``n`` dynamic routes ``/d{i}/{x:int}``."""
    app = falcon.App()
    hello, numbered = Hello(), Numbered()
    for i in range(n):
        app.add_route(f"/s{i}", hello)
        app.add_route(f"/d{i}/{{x:int}}", numbered)
    return app
