"""What views call: ``abort``, ``redirect``, ``url_for`` and ``render``."""

from __future__ import annotations

from typing import Any, NoReturn

from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.utils import redirect as _werkzeug_redirect
from werkzeug.wrappers import Response as _WerkzeugResponse

from .ctx import current_context
from .http import quote_unsafe_in_url
from .wrappers import Response

__all__ = ["abort", "redirect", "render", "url_for"]


def abort(code: int | _WerkzeugResponse, description: str | None = None) -> NoReturn:
    """Stop the request with an HTTP error, e.g. ``abort(404)`` or ``abort(403, "Members only")``."""
    if description is None:
        _werkzeug_abort(code)
    _werkzeug_abort(code, description)


def redirect(location: str, code: int = 302) -> Response:
    """A response that sends the client to ``location``.

    ``location`` may come from the request (``redirect(request.args["next"])``): its control
    characters (CR, LF, tab, NUL, ...) and spaces are percent-encoded, so nothing in it can end the
    ``Location`` line; Werkzeug makes the rest a URI when it sends it (``iri_to_uri``: non-ASCII
    percent-encoded, the host in IDNA). A location that is no URL (``http://[``) is a 500, logged.
    """
    response = _werkzeug_redirect(quote_unsafe_in_url(location), code, Response=Response)
    assert isinstance(response, Response)
    return response


def url_for(endpoint: str, /, **values: Any) -> str:
    """Build the URL of ``endpoint`` for the current app (see :meth:`App.url_for`)."""
    return current_context("url_for").app.url_for(endpoint, **values)


def render(template_name: str, /, **context: Any) -> str:
    """Render a template with the current app's ``templates`` hook."""
    app = current_context("render").app
    if app.templates is None:
        raise RuntimeError(
            "No template renderer: create the app with App(templates=...), e.g. StringTemplates('templates')."
        )
    return app.templates(template_name, context)
