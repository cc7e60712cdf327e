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
import re
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


# ---- the workload kinds of issue 16 (each framework's "kinds", "mixed" and "cookie_hooks" apps)

#: The streamed view yields these 100 small chunks (as str where the framework takes str, else encoded).
STREAM_CHUNKS = [f"row {i:03d}: some streamed text\n" for i in range(100)]


def hand_urls() -> str:
    """The 20 URLs the URL-building view builds, formatted by hand as Falcon users (and the raw floor) do."""
    urls = []
    for i in range(5):
        urls += [
            f"/users/{i}",
            f"/orgs/acme/repos/r{i}",
            f"/orgs/acme/repos/r{i}/issues/{i}",
            f"/search?q=x{i}&page={i}",
        ]
    return "\n".join(urls)


#: The URL targets the frameworks with URL building reverse: endpoint -> rule (Werkzeug syntax).
URL_TARGETS = {
    "user": "/users/<int:uid>",
    "repo": "/orgs/<org>/repos/<repo>",
    "issue": "/orgs/<org>/repos/<repo>/issues/<int:n>",
    "search": "/search",
}
#: 40 query parameters, four of them percent-encoded (or with ``+``); the view reads three.
QUERY_40 = "&".join(
    f"p{i}=" + {5: "a%20b", 17: "caf%C3%A9", 26: "x%2By%3Dz", 38: "hello+world"}.get(i, f"v{i}") for i in range(40)
)
QUERY_40_READ = ("p3", "p17", "p38")
#: A 300-byte JSON request body.
JSON_BODY: dict[str, Any] = {
    "name": "ann",
    "email": "ann@example.com",
    "tags": ["admin", "editor", "reviewer", "author"],
    "address": {"street": "12 Long Road", "city": "Springfield", "zip": "12345", "country": "Elsewhere"},
    "active": True,
    "score": 12.5,
    "bio": "x" * 62,
}
JSON_BODY_BYTES = json.dumps(JSON_BODY).encode()
assert len(JSON_BODY_BYTES) == 300, len(JSON_BODY_BYTES)


def json_body_answer(data: dict[str, Any]) -> str:
    """What the JSON-body view answers for the parsed body."""
    return f"{data['name']}:{len(data['tags'])}:{data['address']['city']}"


#: 20 resource families x 10 shapes = 200 routes, several parameters each (Werkzeug syntax).
MIXED_FAMILIES = [
    "orgs", "users", "teams", "projects", "apps", "groups", "spaces", "sites", "shops", "labs",
    "boards", "clubs", "farms", "fleets", "guilds", "hubs", "leagues", "ports", "studios", "zones",
]  # fmt: skip
MIXED_SHAPES = [
    "/<owner>",
    "/<owner>/repos",
    "/<owner>/repos/<repo>",
    "/<owner>/repos/<repo>/issues",
    "/<owner>/repos/<repo>/issues/<int:n>",
    "/<owner>/repos/<repo>/issues/<int:n>/comments",
    "/<owner>/repos/<repo>/issues/<int:n>/comments/<int:c>",
    "/<owner>/repos/<repo>/pulls/<int:n>",
    "/<owner>/repos/<repo>/branches/<branch>",
    "/<owner>/members/<member>/roles/<int:n>",
]
MIXED_RULES = [f"/{family}{shape}" for family in MIXED_FAMILIES for shape in MIXED_SHAPES]
#: The one asked for: rule 195 of 200.
MIXED_PATH = "/zones/acme/repos/web/issues/42"
_PARAM = re.compile(r"<(?:(int):)?(\w+)>")


def rule_in(style: str, rule: str) -> str:
    """``rule`` (Werkzeug syntax) in the route syntax of ``style``: falcon, bottle, pyramid or regex."""
    templates = {
        "falcon": ("{{{1}:int}}", "{{{1}}}"),
        "bottle": ("<{1}:int>", "<{1}>"),
        "pyramid": ("{{{1}:\\d+}}", "{{{1}}}"),
        "regex": ("(?P<{1}>\\d+)", "(?P<{1}>[^/]+)"),
    }[style]
    return _PARAM.sub(lambda m: templates[0 if m.group(1) else 1].format(*m.groups()), rule)


def mixed_answer(params: dict[str, Any]) -> str:
    """What the mixed-routes view answers: its parameters, sorted by name."""
    return "|".join(f"{name}={params[name]}" for name in sorted(params))


#: The before hook lets a request through when this cookie says so; the after hook adds these two headers.
HOOK_COOKIE = ("uid", "7")
SECURITY_HEADERS = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"))


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


def _body_and_mimetype(reply: Reply) -> Any:
    # Frameworks spell the charset their own way (utf-8, UTF-8) or leave it out of text/plain.
    return reply.body, (reply.header("Content-Type") or "").split(";", 1)[0].strip().lower()


def _body_and_security_headers(reply: Reply) -> Any:
    return reply.body, tuple(reply.header(name) for name, _ in SECURITY_HEADERS)


#: Normaliser name -> (function, what the table says about it).
COMPARISONS: dict[str, tuple[Callable[[Reply], Any], str]] = {
    "body": (_body, "status + exact body"),
    "json": (_json, "status + parsed JSON (spacing differs)"),
    "status": (_status, "status only (each framework's own error page)"),
    "location": (_location, "status + Location path (some make it absolute)"),
    "hook": (_body_and_hook, "status + exact body + X-Hook header"),
    "mimetype": (_body_and_mimetype, "status + exact body + Content-Type's mimetype"),
    "security": (_body_and_security_headers, "status + exact body + the two headers the after hook adds"),
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
    #: The frameworks that serve it, when not all do (a variant of another scenario, a feature peers lack).
    only: tuple[str, ...] = ()

    def served_by(self, framework: str) -> bool:
        """Whether ``framework`` is meant to serve this scenario."""
        return not self.only or framework in self.only

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
        only=("raw", "microweb", "flask"),
    ),
    Scenario(
        "blueprint_hook",
        "GET",
        "/bp/guarded",
        b"guarded",
        variant="blueprint",
        headers=(("X-Token", "ok"),),
        description="the same hook and route on a blueprint",
        only=("raw", "microweb", "flask"),
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
    # ---- issue 16's workload kinds
    Scenario(
        "stream_100",
        "GET",
        "/stream",
        "".join(STREAM_CHUNKS).encode(),
        variant="kinds",
        description="a streamed response of 100 small chunks",
    ),
    Scenario(
        "url_for_20",
        "GET",
        "/urls",
        hand_urls().encode(),
        variant="kinds",
        description="builds 20 URLs (url_for; Bottle get_url; Pyramid route_path; by hand in Falcon and raw)",
    ),
    Scenario(
        "urls_by_hand_20",
        "GET",
        "/urls/hand",
        hand_urls().encode(),
        variant="kinds",
        description="the same 20 URLs formatted by hand (f-strings), the floor url_for_20 is held to",
        only=("raw", "microweb"),
    ),
    Scenario(
        "query_40",
        "GET",
        "/query40",
        "v3|café|hello world".encode(),
        query=QUERY_40,
        variant="kinds",
        description="40 query parameters, 4 percent-encoded, 3 read",
    ),
    Scenario(
        "plain_response",
        "GET",
        "/plain",
        (b"Hello, World!", "text/plain"),
        variant="kinds",
        compare="mimetype",
        description='returns Response(..., mimetype="text/plain") (or the framework\'s own)',
    ),
    Scenario(
        "mixed_200",
        "GET",
        MIXED_PATH,
        mixed_answer({"owner": "acme", "repo": "web", "n": 42}).encode(),
        variant="mixed",
        description="rule 195 of 200 of mixed shapes, several parameters each",
    ),
    Scenario(
        "cookie_hooks",
        "GET",
        "/dashboard",
        (b"dashboard", tuple(value for _, value in SECURITY_HEADERS)),
        variant="cookie_hooks",
        compare="security",
        headers=(("Cookie", COOKIE_HEADER),),
        description="a before hook reads a cookie, an after hook adds two headers",
    ),
    Scenario(
        "json_body",
        "POST",
        "/json-body",
        json_body_answer(JSON_BODY).encode(),
        body=JSON_BODY_BYTES,
        content_type="application/json",
        variant="kinds",
        description="reads a 300-byte JSON request body (request.json)",
    ),
]

BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
#: Issue 16's workload kinds (``urls_by_hand_20`` is the floor of ``url_for_20``, not a kind of its own).
ISSUE_16 = ["stream_100", "url_for_20", "query_40", "plain_response", "mixed_200", "cookie_hooks", "json_body"]
#: URL building is held to formatting by hand, not to Falcon (whose users do that).
URL_BUILDING, BY_HAND = "url_for_20", "urls_by_hand_20"
