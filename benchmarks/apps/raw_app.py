"""The floor: hand-written WSGI with the standard library only, doing just what each scenario needs.

One dict lookup per static path, a regex for the parameterised ones: no
framework does less. The session and templates use the same libraries the
frameworks use (itsdangerous, string.Template, Jinja2), since that work is
the scenario's, not the framework's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from html import escape
from string import Template
from typing import Any
from urllib.parse import parse_qs, unquote_plus

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
        answer: Answer = view(environ)
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


# ---- issue 16's workload kinds


def _chunks() -> Iterator[bytes]:
    for chunk in sc.STREAM_CHUNKS:
        yield chunk.encode()


def stream(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(OK, TEXT)
    return _chunks()


def urls(environ: Environ) -> Answer:
    return OK, TEXT, sc.hand_urls().encode()


def query40(environ: Environ) -> Answer:
    # Knows which three it reads: only their values are decoded, and only when they need it.
    wanted = sc.QUERY_40_READ
    args = {}
    for pair in environ["QUERY_STRING"].split("&"):
        name, _, value = pair.partition("=")
        if name in wanted:
            args[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return OK, TEXT, "|".join(args[name] for name in wanted).encode()


def plain(environ: Environ) -> Answer:
    return OK, [("Content-Type", "text/plain")], b"Hello, World!"


def json_body(environ: Environ) -> Answer:
    return OK, TEXT, sc.json_body_answer(json.loads(_read(environ))).encode()


KINDS: dict[tuple[str, str], Callable[[Environ], Answer]] = {
    ("GET", "/urls"): urls,
    ("GET", "/urls/hand"): urls,
    ("GET", "/query40"): query40,
    ("GET", "/plain"): plain,
    ("POST", "/json-body"): json_body,
}


def _respond(answer: Answer, start_response: Callable[..., Any]) -> Iterable[bytes]:
    status, headers, body = answer
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def kinds(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The workload kinds of issue 16 that need no app of their own."""
    if environ["PATH_INFO"] == "/stream":
        return stream(environ, start_response)
    view = KINDS.get((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
    return _respond(view(environ) if view else ("404 Not Found", TEXT, b"Not Found"), start_response)


def _mixed_table() -> dict[str, list[re.Pattern[str]]]:
    table: dict[str, list[re.Pattern[str]]] = {}
    for rule in sc.MIXED_RULES:
        family = rule.split("/", 2)[1]
        table.setdefault(family, []).append(re.compile(sc.rule_in("regex", rule) + r"\Z"))
    return table


#: First segment -> the patterns of its 10 shapes: a router that knows its table's shape.
MIXED = _mixed_table()


def mixed(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """200 routes of mixed shapes: the family by its first segment, then its shapes in turn."""
    path = environ["PATH_INFO"]
    for pattern in MIXED.get(path.split("/", 2)[1], ()):
        match = pattern.match(path)
        if match is not None:
            params: dict[str, Any] = match.groupdict()
            for name in ("n", "c"):
                if name in params:
                    params[name] = int(params[name])
            return _respond((OK, TEXT, sc.mixed_answer(params).encode()), start_response)
    return _respond(("404 Not Found", TEXT, b"Not Found"), start_response)


def cookie_hooks(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The before hook's cookie check and the after hook's two headers, written into the view."""
    name, value = sc.HOOK_COOKIE
    if _cookies(environ).get(name) != value:
        return _respond(("403 Forbidden", TEXT, b"no"), start_response)
    return _respond((OK, [*HTML, *sc.SECURITY_HEADERS], b"dashboard"), start_response)


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
    apps: dict[str, WSGIApp] = {
        "main": app,
        "hooked": hooked,
        "before_hooked": guarded,
        "blueprint": guarded,
        "kinds": kinds,
        "mixed": mixed,
        "cookie_hooks": cookie_hooks,
    }
    try:
        apps["jinja2"] = _jinja_app()
    except ImportError:
        pass
    return apps
