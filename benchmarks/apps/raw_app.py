"""The floor: hand-written WSGI with the standard library only, doing just what each scenario needs.

One dict lookup per static path, a regex for the parameterised ones: no
framework does less. The session and templates use the same libraries the
frameworks use (itsdangerous, string.Template, Jinja2), since that work is
the scenario's, not the framework's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from html import escape
from string import Template
from typing import Any
from urllib.parse import parse_qs

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import scenarios as sc
from ..wsgi import WSGIApp

Environ = dict[str, Any]
Answer = tuple[str, list[tuple[str, str]], bytes]

TEXT = [("Content-Type", "text/plain; charset=utf-8")]
HTML = [("Content-Type", "text/html; charset=utf-8")]
JSON = [("Content-Type", "application/json")]
OK = "200 OK"

_serializer = URLSafeTimedSerializer(sc.SECRET, salt="bench.session")
with open(f"{sc.TEMPLATES}/page.html", encoding="utf-8") as _fh:
    _page = Template(_fh.read())
_DYNAMIC = re.compile(r"/(users|r\d+)/(\d+)\Z")


def _cookies(environ: Environ) -> dict[str, str]:
    pairs = (item.strip().partition("=") for item in environ.get("HTTP_COOKIE", "").split(";"))
    return {name: value for name, _, value in pairs if name}


def _read(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data: bytes = environ["wsgi.input"].read(length)
    return data


def hello(environ: Environ) -> Answer:
    return OK, TEXT, b"Hello, World!"


def search(environ: Environ) -> Answer:
    args = parse_qs(environ["QUERY_STRING"])
    return OK, TEXT, f"{args['q'][0]}:{args['page'][0]}".encode()


def form(environ: Environ) -> Answer:
    fields = parse_qs(_read(environ).decode())
    return OK, TEXT, f"{fields['name'][0]}:{fields['age'][0]}".encode()


def cookie(environ: Environ) -> Answer:
    return OK, TEXT, _cookies(environ)["theme"].encode()


def login(environ: Environ) -> Answer:
    value = _serializer.dumps({"user": "ann"})
    return OK, [*TEXT, ("Set-Cookie", f"session={value}; HttpOnly; Path=/")], b"ok"


def session(environ: Environ) -> Answer:
    try:
        data = _serializer.loads(_cookies(environ).get("session", ""), max_age=3600)
    except BadSignature:
        data = {}
    return OK, TEXT, f"user={data.get('user')}".encode()


def page(environ: Environ) -> Answer:
    return OK, HTML, _page.substitute({k: escape(str(v)) for k, v in sc.TEMPLATE_CONTEXT.items()}).encode()


def old(environ: Environ) -> Answer:
    return "302 Found", [("Location", "/new"), ("Content-Type", "text/plain")], b""


def big(environ: Environ) -> Answer:
    return OK, JSON, json.dumps(sc.BIG_JSON).encode()


def upload(environ: Environ) -> Answer:
    # Knows the exact shape of its input: split on the boundary, read two parts.
    boundary = environ["CONTENT_TYPE"].split("boundary=", 1)[1].encode()
    title = filename = b""
    size = 0
    for part in _read(environ).split(b"--" + boundary)[1:-1]:
        head, _, data = part[2:-2].partition(b"\r\n\r\n")
        if b'name="title"' in head:
            title = data
        elif b'name="file"' in head:
            filename = head.split(b'filename="', 1)[1].split(b'"', 1)[0]
            size = len(data)
    return OK, TEXT, b"%s:%s:%d" % (title, filename, size)


ROUTES: dict[tuple[str, str], Callable[[Environ], Answer]] = {
    ("GET", "/"): hello,
    ("GET", "/search"): search,
    ("POST", "/form"): form,
    ("GET", "/cookie"): cookie,
    ("GET", "/login"): login,
    ("GET", "/session"): session,
    ("GET", "/page"): page,
    ("GET", "/old"): old,
    ("GET", "/big"): big,
    ("POST", "/upload"): upload,
}
PATHS = {path for _, path in ROUTES}


def _dynamic(path: str) -> Answer | None:
    match = _DYNAMIC.match(path)
    if match is None:
        return None
    name, number = match.groups()
    if name == "users":
        uid = int(number)
        return OK, JSON, json.dumps(sc.user_json(uid)).encode()
    if int(name[1:]) < sc.N_ROUTES:
        return OK, TEXT, str(int(number)).encode()
    return None


def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The main app: every scenario's route."""
    path = environ["PATH_INFO"]
    view = ROUTES.get((environ["REQUEST_METHOD"], path))
    if view is not None:
        answer: Answer | None = view(environ)
    elif path in PATHS:
        answer = "405 Method Not Allowed", TEXT, b"Method Not Allowed"
    else:
        answer = _dynamic(path) or ("404 Not Found", TEXT, b"Not Found")
    status, headers, body = answer
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def hooked(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The app with an after-request hook: here, a header added by hand."""
    start_response(OK, [*TEXT, ("Content-Length", "6"), ("X-Hook", "yes")])
    return [b"hooked"]


def guarded(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A before hook's check of a header, written into the view (the same app for both variants)."""
    if environ.get("HTTP_X_TOKEN") != "ok":
        start_response("403 Forbidden", [*TEXT, ("Content-Length", "2")])
        return [b"no"]
    start_response(OK, [*HTML, ("Content-Length", "7")])
    return [b"guarded"]


def _jinja_app() -> WSGIApp:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(sc.TEMPLATES), autoescape=jinja2.select_autoescape(["html"])
    )

    def jinja(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = env.get_template("page.jinja.html").render(sc.JINJA_CONTEXT).encode()
        start_response(OK, [*HTML, ("Content-Length", str(len(body)))])
        return [body]

    return jinja


def build() -> dict[str, WSGIApp]:
    """The raw apps; without Jinja2 installed the jinja2 scenario is left out."""
    apps: dict[str, WSGIApp] = {"main": app, "hooked": hooked, "before_hooked": guarded, "blueprint": guarded}
    try:
        apps["jinja2"] = _jinja_app()
    except ImportError:
        pass
    return apps
