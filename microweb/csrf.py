"""CSRF protection for form apps: a token bound to the session, checked on unsafe methods.

Put ``csrf_token()`` in every form (``<input type="hidden" name="csrf_token"
value="...">``) or send it as the ``X-CSRF-Token`` header, and call
``protect(app)``: a POST, PUT, PATCH or DELETE without the session's token is
a 400 that says why.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable

from .app import App
from .globals import request, session
from .helpers import abort

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SESSION_KEY = "_csrf_token"


def csrf_token() -> str:
    """The current session's CSRF token, created on first use."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str):
        token = session[_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def protect(app: App, *, exempt: Iterable[str] = ()) -> None:
    """Check the CSRF token on every unsafe request to ``app`` (endpoints in ``exempt`` excepted)."""
    exempt_endpoints = frozenset(exempt)

    def check_csrf_token() -> None:
        if request.method in SAFE_METHODS or request.endpoint is None or request.endpoint in exempt_endpoints:
            return  # unmatched requests get their 404 or 405 as usual
        sent = request.headers.get(HEADER) or request.form.get(FIELD, "")
        expected = session.get(_SESSION_KEY)
        if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(
                400,
                "The form's security token is missing or out of date (CSRF check). "
                "Go back, reload the page and send the form again.",
            )

    app.before_request(check_csrf_token)
