"""microweb inside a larger WSGI stack: mounted under ``/api`` of another app, behind middleware.

The stack, outermost first::

    gzip  ->  DispatcherMiddleware  ->  "/"    the site's other WSGI app (a plain function here)
                                    ->  "/api" basic auth  ->  the microweb app

Run it with ``python examples/embed.py`` (http://127.0.0.1:8000/, the API
at /api/, user ``demo``, password from ``EMBED_PASSWORD``, default ``demo``).

Both middlewares are small and written here, because the maintained
candidates did not fit: Werkzeug has no gzip middleware, and Paste's gzip
middleware sends no ``Vary: Accept-Encoding`` (so a cache could hand gzip to a
client that cannot read it) while its basic-auth middleware answers a
malformed ``Authorization`` header with a 500.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from microweb import App, request, url_for

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class BasicAuth:
    """HTTP Basic authentication in front of a WSGI app; sets ``REMOTE_USER`` for it.

    ``check(user, password)`` decides. Anything else (no header, another
    scheme, bad base64, no colon) is a 401 that asks for credentials.
    """

    def __init__(self, app: WSGIApplication, realm: str, check: Callable[[str, str], bool]) -> None:
        self.app = app
        self.realm = realm
        self.check = check

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        user = self._user(environ.get("HTTP_AUTHORIZATION", ""))
        if user is None:
            body = b"Sign in to use the API.\n"
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'),
                ],
            )
            return [body]
        environ["REMOTE_USER"] = user
        environ["AUTH_TYPE"] = "Basic"
        return self.app(environ, start_response)

    def _user(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if sep and self.check(user, password) else None


class Gzip:
    """Compress text responses for clients that accept gzip.

    The body is buffered (fine for pages and JSON; put big downloads
    elsewhere). Skipped for HEAD, for bodiless statuses, for bodies that are
    already encoded or too small to gain, and for non-text content types.
    ``Vary: Accept-Encoding`` goes on every compressible response, so caches
    keep the two versions apart.
    """

    COMPRESSIBLE = ("text/", "application/json", "application/javascript", "application/xml", "image/svg+xml")

    def __init__(self, app: WSGIApplication, minimum_size: int = 200, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}
        written: list[bytes] = []  # what the app passed to the legacy write() callable, if anything

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return written.append

        body_iter = self.app(environ, capture)
        try:
            body = b"".join([*written, *body_iter])
        finally:
            if hasattr(body_iter, "close"):
                body_iter.close()
        status, headers = captured["status"], captured["headers"]
        if self._compressible(status, headers):
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "vary")]
            vary = [v for k, v in captured["headers"] if k.lower() == "vary"]
            headers.append(("Vary", ", ".join([*vary, "Accept-Encoding"])))
            if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") and len(body) >= self.minimum_size:
                body = gzip.compress(body, self.level)
                headers.append(("Content-Encoding", "gzip"))
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers, captured["exc_info"])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _compressible(self, status: str, headers: list[tuple[str, str]]) -> bool:
        if status[:3] in ("204", "304") or status.startswith("1"):
            return False
        fields = {k.lower(): v for k, v in headers}
        content_type = fields.get("content-type", "")
        return "content-encoding" not in fields and content_type.startswith(self.COMPRESSIBLE)


# ---------------------------------------------------------------- the microweb part: a small API

api = App(__name__)


@api.get("/")
def api_index() -> dict[str, Any]:
    return {"user": request.remote_user, "self": url_for("api_index"), "items": url_for("items")}


@api.get("/items")
def items() -> list[dict[str, Any]]:
    # Large enough to be worth compressing.
    return [{"id": n, "name": f"item {n}", "url": url_for("item", item_id=n)} for n in range(1, 51)]


@api.get("/items/<int:item_id>")
def item(item_id: int) -> dict[str, Any]:
    return {"id": item_id, "name": f"item {item_id}", "url": url_for("item", item_id=item_id)}


# ---------------------------------------------------------------- the rest of the site, and the stack


def homepage(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The larger site's own WSGI app: everything outside /api."""
    if environ.get("PATH_INFO", "/") not in ("", "/"):
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Not here.\n"]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<!doctype html><title>Site</title><h1>The site</h1><p>Its API is at <a href=/api/>/api/</a>.</p>\n"]


def check_password(user: str, password: str) -> bool:
    expected = os.environ.get("EMBED_PASSWORD", "demo")
    # compare_digest: the time taken does not tell how much of the password was right
    return hmac.compare_digest(user.encode(), b"demo") & hmac.compare_digest(password.encode(), expected.encode())


def make_site() -> WSGIApplication:
    """The whole stack: gzip around a dispatcher that hands /api to the authenticated microweb app."""
    return Gzip(DispatcherMiddleware(homepage, {"/api": BasicAuth(api, "microweb API", check_password)}))


site = make_site()

if __name__ == "__main__":
    from microweb.serving import run

    run(site, port=8000)  # any WSGI app runs on microweb's servers: this is the dev server
