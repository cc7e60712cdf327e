"""What views call: ``abort``, ``redirect``, ``url_for``, ``render``, ``flash`` and ``send_file``."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn, overload

from markupsafe import escape
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import ValidationError
from werkzeug.security import safe_join
from werkzeug.utils import redirect as _werkzeug_redirect
from werkzeug.utils import send_file as _werkzeug_send_file
from werkzeug.wrappers import Response as _WerkzeugResponse

from .ctx import OUTSIDE_REQUEST, context_var, current_context
from .http import is_uri, quote_unsafe_in_url
from .wrappers import HTML, Response, checked_response

__all__ = [
    "abort",
    "flash",
    "get_flashed_messages",
    "redirect",
    "render",
    "send_file",
    "send_from_directory",
    "url_for",
]

#: The session key the flashed messages wait under (Flask's, so a session shared with Flask reads the same).
FLASHES_KEY = "_flashes"


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
    The response is Werkzeug's ``redirect``'s: the same page, status and headers.
    """
    location = quote_unsafe_in_url(location)
    page = _redirect_page()
    if page is None or type(code) is not int or code not in HTTP_STATUS_CODES:
        response = _werkzeug_redirect(location, code, Response=Response)
        assert isinstance(response, Response)
        return response
    # PERF: built at once, where Werkzeug's parses the status, sets the body and then the header.
    shown = escape(location)
    body = f"{page[0]}{shown}{page[1]}{shown}{page[2]}".encode()
    if is_uri(location):  # sent as it is, and passes the header check: made as a checked header
        return checked_response(Response, body, HTML, code, [("Location", location)])
    response = Response.of(body, HTML, code)
    response.headers["Location"] = location  # checked before sending, as any header set later
    return response


@functools.cache
def _redirect_page() -> tuple[str, str, str] | None:
    """Werkzeug's redirect page, cut around the two places of its URL; None if it has not two.

    Made by Werkzeug's ``redirect`` once, at the first redirect: the page stays Werkzeug's own.
    """
    marker = "http://redirect.invalid/"
    parts = _werkzeug_redirect(marker).get_data(as_text=True).split(marker)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def _url_for(endpoint: str, /, **values: Any) -> str:
    """Build the URL of ``endpoint`` for the current app (see :meth:`App.build_url`).

    The values fill the rule's variables, the others become the query string;
    ``_external=True`` makes the URL absolute, ``_anchor="top"`` adds ``#top``.
    """
    try:
        ctx = context_var.get()  # PERF: current_context() inlined, views call this many times
    except LookupError:
        raise RuntimeError(OUTSIDE_REQUEST.format("url_for")) from None
    # PERF: the endpoint's compiled builder, as App.build_url would reach it (RuleMapAdapter.build_url);
    # none before App.build_url ran once in this request, nor for a relative endpoint (".index", see
    # RuleMap.builder). _external and _anchor stay in the values, so that a call without them pays
    # nothing for them: given the external root, the builder takes them as url_for's keywords.
    builder = ctx.url_builders.get(endpoint)
    if builder is not None:
        try:
            url = builder(values, ctx.url_root, ctx.url_external)
        except ValidationError:  # Werkzeug tries the endpoint's next rule
            url = None
        if url is not None:
            return url
    external = values.pop("_external", False)
    anchor = values.pop("_anchor", None)
    # PERF: the values passed on as a dict; spreading them again as keywords cost more than the build
    return ctx.app.build_url(endpoint, values, external, anchor)


if TYPE_CHECKING:

    def url_for(endpoint: str, /, *, _external: bool = False, _anchor: str | None = None, **values: Any) -> str:
        """Build the URL of ``endpoint`` for the current app (see :meth:`App.build_url`)."""

else:
    # PERF: keyword-only parameters with defaults cost each call more than looking the two keys up
    url_for = _url_for
    url_for.__name__ = url_for.__qualname__ = "url_for"  # as introspection and the API reference name it


def render(template_name: str, /, **context: Any) -> str:
    """Render a template with the current app's ``templates`` hook."""
    app = current_context("render").app
    if app.templates is None:
        raise RuntimeError(
            "No template renderer: create the app with App(templates=...), e.g. StringTemplates('templates')."
        )
    return app.templates(template_name, context)


# ---------------------------------------------------------------- flashed messages


def flash(message: str, category: str = "message") -> None:
    """Keep ``message`` in the session for the next page that calls :func:`get_flashed_messages`.

    Typically flashed before a redirect and shown by the page it leads to, once.
    ``category`` is free text (``"error"``, ``"info"``, ...). Needs a secret key.
    """
    ctx = current_context("flash()")
    if ctx.app.config["SECRET_KEY"] is None:
        raise RuntimeError(
            "flash() keeps messages in the session, which needs a secret key: create the app with "
            'App(secret_key=os.environ["SECRET_KEY"]) (make one with python -c "import secrets; '
            'print(secrets.token_hex(32))").'
        )
    session = ctx.session
    # Assigned again, not appended: the session sees assignments only, and sends its cookie then.
    session[FLASHES_KEY] = [*session.get(FLASHES_KEY, ()), [category, message]]


@overload
def get_flashed_messages(
    with_categories: Literal[False] = False, category_filter: Collection[str] = ()
) -> list[str]: ...
@overload
def get_flashed_messages(
    with_categories: Literal[True], category_filter: Collection[str] = ()
) -> list[tuple[str, str]]: ...
@overload
def get_flashed_messages(
    with_categories: bool, category_filter: Collection[str] = ()
) -> list[str] | list[tuple[str, str]]: ...
def get_flashed_messages(
    with_categories: bool = False, category_filter: Collection[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The messages flashed since the last call in an earlier request, oldest first; they are then gone.

    Every call in one request returns the same messages. ``with_categories=True``
    gives ``(category, message)`` pairs; ``category_filter`` (a category or several)
    keeps only those categories (the others are removed all the same, as in Flask). Without a secret
    key nothing can have been flashed: the list is empty.
    """
    ctx = current_context("get_flashed_messages()")
    flashes = ctx.flashes
    if flashes is None:
        if ctx.app.config["SECRET_KEY"] is None:
            flashes = []
        else:
            session = ctx.session
            stored = session.pop(FLASHES_KEY) if FLASHES_KEY in session else []
            flashes = [(str(category), str(message)) for category, message in stored]
        ctx.flashes = flashes
    if category_filter:
        wanted = (category_filter,) if isinstance(category_filter, str) else category_filter  # "error": not e, r, o
        flashes = [pair for pair in flashes if pair[0] in wanted]
    if with_categories:
        return list(flashes)
    return [message for _category, message in flashes]


# ---------------------------------------------------------------- files


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | Callable[[str | None], int | None] | None = None,
) -> _WerkzeugResponse:
    """The response that sends a file (Werkzeug's ``send_file``, for the current request); Flask's arguments.

    A relative path is taken from the app's ``root_path``. The type is guessed from
    the path, or from ``download_name`` for a file object. With ``conditional`` (the
    default) ``If-None-Match``/``If-Modified-Since`` get a 304 and a single ``Range``
    a 206. ``max_age`` (seconds of ``Cache-Control``) defaults to
    ``config["SEND_FILE_MAX_AGE_DEFAULT"]``. Never pass a path from the request
    here: use :func:`send_from_directory`.
    """
    ctx = current_context("send_file()")
    app = ctx.app
    if isinstance(path_or_file, (str, os.PathLike)):
        path_or_file = os.path.join(app.root_path, os.fspath(path_or_file))
    response = _werkzeug_send_file(
        path_or_file,
        ctx.environ,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=conditional,
        etag=etag,
        last_modified=last_modified,
        max_age=app.config["SEND_FILE_MAX_AGE_DEFAULT"] if max_age is None else max_age,
        response_class=app.response_class,
    )
    # Werkzeug 3.1.9 says it takes ranges on every conditional GET and HEAD; 3.1.0 to 3.1.8 only on a 206.
    if conditional and ctx.environ["REQUEST_METHOD"] in ("GET", "HEAD") and "Accept-Ranges" not in response.headers:
        response.headers["Accept-Ranges"] = "bytes"
    return response


def send_from_directory(directory: str | os.PathLike[str], path: str, **kwargs: Any) -> _WerkzeugResponse:
    """:func:`send_file` for ``path`` (which may come from the request) inside ``directory``; else a 404.

    Whatever leads out of the folder is a 404: ``..``, an absolute path, a NUL byte,
    and (beyond Werkzeug's check) a symlink that points outside it. A relative
    ``directory`` is taken from the app's ``root_path``. ``kwargs`` go to :func:`send_file`.
    """
    folder = os.path.join(current_context("send_from_directory()").app.root_path, os.fspath(directory))
    file = safe_join(folder, path) if "\x00" not in path else None
    # safe_join stops "..", absolute paths and the like; a symlink could still lead out.
    if file is None or not os.path.realpath(file).startswith(os.path.realpath(folder) + os.sep):
        raise NotFound()
    if not os.path.isfile(file):
        raise NotFound()
    return send_file(file, **kwargs)
