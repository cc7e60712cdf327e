"""Cross-origin resource sharing (CORS): let pages of other origins call this app from a browser.

``allow_cors(app, origins=["https://app.example.com"])`` answers the browser's
preflight (``OPTIONS`` with ``Access-Control-Request-Method``) for the listed
origins, and adds ``Access-Control-Allow-Origin`` (and the rest) to their
requests' responses, error pages included. Every response of the app (or
blueprint) gets ``Vary: Origin``. CORS only tells browsers which pages may *read*
responses: it refuses no request, so it is no access control (and no CSRF
protection).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response as BaseResponse

from .ctx import current_context
from .globals import current_app
from .http import wsgi_decoded

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["Hooks", "allow_cors"]

F = TypeVar("F", bound=Callable[..., Any])

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Hooks(Protocol):
    """What ``allow_cors`` registers its hooks on: an App, or a Blueprint (its requests only)."""

    def before_request(self, func: F, /) -> F: ...

    def after_request(self, func: F, /) -> F: ...


def allow_cors(
    target: Hooks,
    origins: str | Iterable[str],
    methods: Iterable[str] | None = None,
    headers: Iterable[str] | None = None,
    credentials: bool = False,
    max_age: int | None = 600,
    expose: Iterable[str] = (),
) -> None:
    """Let pages of ``origins`` read the responses of ``target`` (an App or a Blueprint) in a browser.

    :param origins: ``["https://app.example.com", ...]`` (scheme, host, port), or ``"*"``: any origin.
    :param methods: the methods a preflight allows; None: each route's own methods.
    :param headers: the request headers a preflight allows; None: whichever the browser asks for.
    :param credentials: let the browser send cookies and HTTP auth, and read the answer.
    :param max_age: seconds a browser may cache a preflight's answer (None: not said).
    :param expose: response headers scripts may read, besides the safelisted ones.

    Preflights from the listed origins are answered here, before the app's own
    before hooks registered after this call; preflights from other origins, and
    requests to paths without a route, get the app's usual answer. Raises
    ValueError for a value a browser would not accept, and for ``"*"`` with
    ``credentials=True``.
    """
    policy = _Policy(origins, methods, headers, credentials, max_age, expose)
    target.before_request(policy.answer_preflight)
    target.after_request(policy.add_headers)


class _Policy:
    """One ``allow_cors`` call's settings, checked once, and the two hooks that apply them."""

    def __init__(
        self,
        origins: str | Iterable[str],
        methods: Iterable[str] | None,
        headers: Iterable[str] | None,
        credentials: bool,
        max_age: int | None,
        expose: Iterable[str],
    ) -> None:
        self.origins = None if origins == "*" else frozenset(_origin(o) for o in _names(origins))
        if self.origins is None and credentials:
            raise ValueError(
                "allow_cors(origins='*', credentials=True) is refused: browsers do not let pages read a "
                "credentialed answer allowed to every origin, and allowing each origin that asks instead would "
                "let any site read your users' data with their cookies. List the origins: "
                "origins=['https://app.example.com']."
            )
        if self.origins is not None and not self.origins:
            raise ValueError("allow_cors() needs at least one origin, e.g. origins=['https://app.example.com']")
        self.methods = None if methods is None else frozenset(_token(m, "methods").upper() for m in _names(methods))
        self.headers = None if headers is None else ", ".join(_token(h, "headers") for h in _names(headers))
        self.credentials = credentials
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
            raise ValueError(f"max_age is a number of seconds (0 or more) or None, not {max_age!r}")
        self.max_age = None if max_age is None else str(max_age)
        self.expose = ", ".join(_token(h, "expose") for h in _names(expose))

    def allows(self, origin: str | None) -> bool:
        """Whether a page of ``origin`` (the request's ``Origin`` header) may read the response."""
        return origin is not None and (self.origins is None or origin in self.origins)

    def answer_preflight(self) -> BaseResponse | None:
        """A before hook: the answer to an allowed origin's preflight, as the automatic OPTIONS answer."""
        environ = current_context().environ
        if not _is_preflight(environ) or not self.allows(environ.get("HTTP_ORIGIN")):
            return None
        allowed = _route_methods()
        if not allowed:
            return None  # no route at this path: its 404 answers (and the browser gives up)
        return current_app.response_class(status=200, headers={"Allow": ", ".join(allowed)})

    def add_headers(self, response: BaseResponse) -> BaseResponse:
        """An after hook: ``Vary: Origin`` always, and the ``Access-Control-*`` headers for an allowed origin."""
        headers = response.headers
        _vary_on_origin(headers)  # the answer depends on it: caches must not give one origin's to another
        environ = current_context().environ
        origin = environ.get("HTTP_ORIGIN")
        if not self.allows(origin):
            return response
        headers["Access-Control-Allow-Origin"] = "*" if self.origins is None else str(origin)
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if _is_preflight(environ):
            self._add_preflight_headers(headers, environ)
        elif self.expose:
            headers["Access-Control-Expose-Headers"] = self.expose
        return response

    def _add_preflight_headers(self, headers: Headers, environ: WSGIEnvironment) -> None:
        # The preflight's answer lists the route's methods in Allow (answer_preflight's, a 405's): no second match.
        allow = (m.strip() for m in headers.get("Allow", "").split(","))
        methods = [m for m in allow if m and (self.methods is None or m in self.methods)]
        if methods:
            headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        asked = self.headers if self.headers is not None else _asked_headers(environ)
        if asked:
            headers["Access-Control-Allow-Headers"] = asked
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = self.max_age


def _is_preflight(environ: WSGIEnvironment) -> bool:
    return bool(
        environ["REQUEST_METHOD"] == "OPTIONS"
        and environ.get("HTTP_ORIGIN")
        and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    )


def _vary_on_origin(headers: Headers) -> None:
    """Add ``Origin`` to ``Vary`` (PERF: without parsing it into Werkzeug's HeaderSet and back)."""
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Origin"
    elif "origin" not in (name.strip().lower() for name in vary.split(",")):
        headers["Vary"] = f"{vary}, Origin"


def _route_methods() -> list[str]:
    """The methods the route at this request's path takes, sorted; none when no route is there."""
    ctx = current_context()
    path = wsgi_decoded(ctx.environ.get("PATH_INFO") or "/")
    return sorted(current_app.url_adapter(ctx).allowed_methods(path))


def _asked_headers(environ: WSGIEnvironment) -> str:
    """The headers the preflight asks for (``Access-Control-Request-Headers``), the well-formed ones."""
    asked = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))
    return ", ".join(name for name in (part.strip() for part in asked.split(",")) if _TOKEN.fullmatch(name))


def _names(value: str | Iterable[str]) -> list[str]:
    """A list of names: one string is one name, not its letters."""
    return [value] if isinstance(value, str) else list(value)


def _token(name: str, what: str) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"allow_cors({what}=...) takes names like 'X-Request-Id' or 'PUT', not {name!r}")
    return name


def _origin(text: str) -> str:
    """``text`` as browsers send it in ``Origin``: lower-case scheme and host, no default port, no slash."""
    if text == "null":
        raise ValueError(
            "allow_cors() refuses the origin 'null': sandboxed frames, local files and redirects send it, "
            "so any site can; list real origins like 'https://app.example.com'"
        )
    try:
        parts = urlsplit(text)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except (ValueError, TypeError, AttributeError):  # a port that is no number; not a string at all
        scheme, host, port, parts = "", None, None, None
    if parts is None or not _SCHEME.fullmatch(scheme) or not host or parts.path not in ("", "/"):
        raise ValueError(f"allow_cors() takes origins like 'https://app.example.com' or '*', not {text!r}")
    if parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"an origin is a scheme, a host and a port, without anything else: not {text!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return f"{scheme}://{netloc}"
