"""The scenarios every framework serves, with the answer each must give.

A scenario is one request (method, path, query, body, headers) plus the
expected status and a normalised expected body. ``compare`` names how a reply
is normalised before comparing, for the cases where frameworks cannot produce
identical bytes (JSON spacing, their own error pages, absolute vs relative
``Location``); :data:`COMPARISONS` says what each one keeps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .wsgi import Reply

#: Signs the session cookie in every framework (long enough for microweb's key check).
SECRET = "benchmark-only-key-0123456789abcdef"
#: The folder of the StringTemplates and Jinja2 templates.
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
#: Routes ``/r0/<int:x>`` ... ``/r{N-1}/<int:x>`` in the main app; the scenario asks for the last one.
N_ROUTES = 1000

# ---- the data the views return or read

USER_ID = 42
TEMPLATE_CONTEXT: dict[str, Any] = {"title": "Bench", "name": "Ann & <Bob>", "count": 3}
JINJA_CONTEXT: dict[str, Any] = {"title": "Bench", "name": "Ann & <Bob>", "items": ["one", "two", "three"]}
# 1,588 items make 64 KiB of compact JSON: a typical "list everything" API answer.
BIG_JSON: dict[str, Any] = {"items": [{"id": i, "name": f"item-{i:05d}", "ok": True} for i in range(1588)]}
COOKIE_HEADER = "theme=dark; lang=en; uid=7"
UPLOAD = bytes(range(256)) * 64  # 16 KiB of every byte value
BOUNDARY = "----microwebBenchBoundary7MA4YWxk"
MULTIPART_BODY = (
    (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        "report\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="data.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    + UPLOAD
    + f"\r\n--{BOUNDARY}--\r\n".encode()
)


def user_json(uid: int) -> dict[str, Any]:
    """The body of the path-parameter + JSON view."""
    return {"id": uid, "name": f"user{uid}"}


# ---- how replies are compared


def _body(reply: Reply) -> Any:
    return reply.body


def _json(reply: Reply) -> Any:
    # Frameworks differ in JSON spacing and key order, not in content.
    return json.loads(reply.body)


def _status(reply: Reply) -> Any:
    # Error pages are each framework's own HTML or JSON: only the status must agree.
    return None


def _location(reply: Reply) -> Any:
    # Bottle and WebOb make Location absolute (http://localhost/new); the target path is what counts.
    location = reply.header("Location") or ""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _body_and_hook(reply: Reply) -> Any:
    return reply.body, reply.header("X-Hook")


#: Normaliser name -> (function, what the table says about it).
COMPARISONS: dict[str, tuple[Callable[[Reply], Any], str]] = {
    "body": (_body, "status + exact body"),
    "json": (_json, "status + parsed JSON (spacing differs)"),
    "status": (_status, "status only (each framework's own error page)"),
    "location": (_location, "status + Location path (some make it absolute)"),
    "hook": (_body_and_hook, "status + exact body + X-Hook header"),
}


@dataclass(frozen=True)
class Scenario:
    """One request and the reply every framework must give to it."""

    name: str
    method: str
    path: str
    expected: Any
    status: int = 200
    query: str = ""
    body: bytes = b""
    content_type: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    compare: str = "body"
    #: Which of a framework's apps serves it (an after-request hook changes every request of its app).
    variant: str = "main"
    #: Sends the session cookie the framework's own ``/login`` view set.
    session: bool = False
    description: str = ""

    def normalise(self, reply: Reply) -> Any:
        """The parts of ``reply`` that must equal :attr:`expected`."""
        return COMPARISONS[self.compare][0](reply)


def _render_string_template() -> bytes:
    from html import escape
    from string import Template

    with open(os.path.join(TEMPLATES, "page.html"), encoding="utf-8") as fh:
        template = Template(fh.read())
    return template.substitute({k: escape(str(v)) for k, v in TEMPLATE_CONTEXT.items()}).encode()


def _render_jinja_by_hand() -> bytes:
    # Written out by hand, not with Jinja2, so the expectation does not depend on the engine under test.
    items = "".join(f"<li>{item}</li>" for item in JINJA_CONTEXT["items"])
    return (f"<!doctype html>\n<title>Bench</title>\n<h1>Hello, Ann &amp; &lt;Bob&gt;!</h1>\n<ul>{items}</ul>").encode()


SCENARIOS: list[Scenario] = [
    Scenario("hello", "GET", "/", b"Hello, World!", description="plain text"),
    Scenario(
        "param_json",
        "GET",
        f"/users/{USER_ID}",
        user_json(USER_ID),
        compare="json",
        description="int path parameter, small JSON answer",
    ),
    Scenario("query", "GET", "/search", b"abc:2", query="q=abc&page=2", description="two query arguments"),
    Scenario(
        f"last_of_{N_ROUTES}", "GET", f"/r{N_ROUTES - 1}/7", b"7", description=f"last of {N_ROUTES} dynamic routes"
    ),
    Scenario("not_found", "GET", "/missing/page", None, status=404, compare="status", description="404"),
    Scenario(
        "post_form",
        "POST",
        "/form",
        b"ann:33",
        body=b"name=ann&age=33",
        content_type="application/x-www-form-urlencoded",
        description="urlencoded POST",
    ),
    Scenario(
        "cookie",
        "GET",
        "/cookie",
        b"dark",
        headers=(("Cookie", COOKIE_HEADER),),
        description="reads one of three cookies",
    ),
    Scenario("session", "GET", "/session", b"user=ann", session=True, description="reads a signed-cookie session"),
    Scenario(
        "template_string",
        "GET",
        "/page",
        _render_string_template(),
        description="StringTemplates (string.Template + escaping elsewhere)",
    ),
    Scenario(
        "template_jinja2",
        "GET",
        "/jinja",
        _render_jinja_by_hand(),
        variant="jinja2",
        description="Jinja2 template, autoescaped",
    ),
    Scenario("redirect", "GET", "/old", "/new", status=302, compare="location", description="302 to /new"),
    Scenario("method_not_allowed", "POST", "/", None, status=405, compare="status", description="405"),
    Scenario(
        "after_hook",
        "GET",
        "/hooked",
        (b"hooked", "yes"),
        variant="hooked",
        compare="hook",
        description="an after-request hook adds a header",
    ),
    Scenario(
        "before_hook",
        "GET",
        "/guarded",
        b"guarded",
        variant="before_hooked",
        headers=(("X-Token", "ok"),),
        description="a before hook reads a header, on an app route",
    ),
    Scenario(
        "blueprint_hook",
        "GET",
        "/bp/guarded",
        b"guarded",
        variant="blueprint",
        headers=(("X-Token", "ok"),),
        description="the same hook and route on a blueprint",
    ),
    Scenario("json_64k", "GET", "/big", BIG_JSON, compare="json", description="64 KiB JSON answer"),
    Scenario(
        "multipart",
        "POST",
        "/upload",
        f"report:data.bin:{len(UPLOAD)}".encode(),
        body=MULTIPART_BODY,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        description="16 KiB file upload",
    ),
]

BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
