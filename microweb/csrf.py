"""CSRF protection for form apps: a token bound to the session, checked on unsafe methods.

Put ``csrf_token()`` in every form (``<input type="hidden" name="csrf_token"
value="...">``) or send it as the ``X-CSRF-Token`` header, and call
``protect(app)``: a POST, PUT, PATCH or DELETE without the session's token is
a 400 that says why. Over HTTPS such a request must also come from the site
itself, by its ``Origin`` header or, without one, its ``Referer``. Call
``rotate_csrf_token()`` when a user signs in or out.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from .app import App
from .globals import request, session
from .helpers import abort

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SESSION_KEY = "_csrf_token"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AGAIN = "Go back, reload the page and send the form again."

_Origin = tuple[str, str, int]


def csrf_token() -> str:
    """The current session's CSRF token, created on first use."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str):
        token = session[_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def rotate_csrf_token() -> str:
    """Replace the session's CSRF token with a new one, and return it; the old one is refused from now on.

    Call it when the user signs in or out, so a token seen before (in a page
    cached or shared, or planted with a cookie) is worth nothing afterwards.
    """
    token = session[_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def protect(app: App, *, exempt: Iterable[str] = (), trusted_origins: Iterable[str] = ()) -> None:
    """Check the CSRF token on every unsafe request to ``app`` (endpoints in ``exempt`` excepted).

    Over HTTPS the request must also come from this site: its ``Origin`` (or,
    without one, its ``Referer``) must be the request's own scheme, host and
    port, or one of ``trusted_origins`` (like ``"https://forms.example.com"``).
    Refuses, with what to do, an app without a usable secret key: every check
    would need the session.
    """
    _check_session_is_possible(app)
    exempt_endpoints = frozenset(exempt)
    trusted = frozenset(_trusted_origin(origin) for origin in trusted_origins)

    def check_csrf_token() -> None:
        if request.method in SAFE_METHODS or request.endpoint is None or request.endpoint in exempt_endpoints:
            return  # unmatched requests get their 404 or 405 as usual
        if request.scheme == "https":
            _check_origin(trusted)
        sent = request.headers.get(HEADER) or request.form.get(FIELD, "")
        expected = session.get(_SESSION_KEY)
        if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, f"The form's security token is missing or out of date (CSRF check). {_AGAIN}")

    app.before_request(check_csrf_token)


def _check_session_is_possible(app: App) -> None:
    if app.config.get("SECRET_KEY") is None:
        raise RuntimeError(
            "protect(app) checks a token kept in the session, and the session needs a secret key: "
            'create the app with App(secret_key=os.environ["SECRET_KEY"]), or load the configuration '
            "(app.config.from_prefixed_env() reads MICROWEB_SECRET_KEY) before calling protect(app)"
        )
    app.session_cookie  # noqa: B018  (builds the signer: a weak key is refused now, not at the first POST)


def _origin(url: str) -> _Origin | None:
    """(scheme, host, port) of an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number, a broken IPv6 address
        return None
    if host is None or port is None:
        return None
    return scheme, host.rstrip("."), port


def _trusted_origin(origin: str) -> _Origin:
    parsed = _origin(origin)
    if parsed is None or urlsplit(origin).path not in ("", "/"):
        raise ValueError(f"trusted_origins takes origins like 'https://forms.example.com', not {origin!r}")
    return parsed


def _check_origin(trusted: frozenset[_Origin]) -> None:
    """Refuse an HTTPS request whose Origin, or without one whose Referer, is not this site."""
    own = _origin(_site())
    allowed = trusted | {own} if own is not None else trusted
    origin = request.headers.get("Origin")
    if origin is not None:
        if _origin(origin) not in allowed:  # "null" included: a sandboxed frame, a privacy redirect
            abort(400, f"This request came from another site: its Origin header is not {_site()} (CSRF check).")
        return
    referer = request.headers.get("Referer")
    if referer is None:
        abort(
            400,
            "This request says neither which site (Origin header) nor which page (Referer header) it came "
            f"from, and over HTTPS one of them must show it came from {_site()} (CSRF check). "
            "If your browser or an extension removes them, allow them for this site.",
        )
    if _origin(referer) not in allowed:
        abort(400, f"This request came from a page that is not on {_site()}: see its Referer header (CSRF check).")


def _site() -> str:
    return f"{request.scheme}://{request.host}"
