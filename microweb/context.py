"""The request context: what views reach through ``request``, ``session`` and resources.

One ``_RequestContext`` per request lives in a ContextVar, so it is local to
each thread and each asyncio task; the proxies and helpers below look it up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

from werkzeug.exceptions import ClientDisconnected, HTTPException, ServiceUnavailable
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.local import LocalProxy
from werkzeug.routing import MapAdapter
from werkzeug.urls import iri_to_uri
from werkzeug.utils import redirect as _werkzeug_redirect
from werkzeug.wrappers import Response

from .sessions import Session
from .wrappers import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .app import App

logger = logging.getLogger("microweb")

T = TypeVar("T")


# ---------------------------------------------------------------- the request context


class _RequestContext:
    """Everything that belongs to one request; reached through ``request`` and friends."""

    # Class-level defaults: a request sets only what it uses (most set none of these).
    adapter: MapAdapter | None = None
    endpoint: str | None = None
    view_args: dict[str, Any] = {}  # never changed in place: a match assigns a new dict
    routing_error: HTTPException | None = None
    error: BaseException | None = None
    #: opened resources, in opening order (None until one opens)
    resources: dict[Resource[Any], tuple[Iterator[Any], Any]] | None = None
    #: set when the resources were finalized: too late to open one
    closed = False
    _request: Request | None = None
    _session: Session | None = None

    def __init__(self, app: App, environ: WSGIEnvironment) -> None:
        self.app = app
        self.environ = environ

    @property
    def request(self) -> Request:
        # Built on first use: many views never touch the request object.
        if self._request is None:
            app = self.app
            req = self._request = app.request_class(self.environ)
            req.max_content_length = app.config["MAX_CONTENT_LENGTH"]
            req.max_form_memory_size = app.config["MAX_FORM_MEMORY_SIZE"]
            req.max_form_parts = app.config["MAX_FORM_PARTS"]
            req.endpoint = self.endpoint
            req.view_args = self.view_args
        return self._request

    @property
    def session(self) -> Session:
        if self._session is None:
            cookie = self.app.session_cookie
            self._session = cookie.load(self.request.cookies.get(cookie.name))
        return self._session

    @property
    def current_app(self) -> App:
        return self.app


_current: ContextVar[_RequestContext] = ContextVar("microweb.request")
_OUTSIDE = (
    "{} is only available while a request is being handled: use it in a view, a hook or a template "
    "(in tests, make a request with app.test_client())."
)


def _proxy(attribute: str) -> Any:
    """A LocalProxy for ``_current.get().<attribute>``, with its hot paths made direct.

    LocalProxy resolves ``request.args`` through a failed attribute lookup and a
    chain of descriptors, about 1 µs on every read in every view. This subclass
    reads public attributes and items straight off the context; everything else
    (private names, writes, operators, ``repr``) is LocalProxy's.
    """
    message = _OUTSIDE.format(attribute)
    target = attrgetter(attribute)
    get = _current.get

    def current() -> Any:
        try:
            ctx = get()
        except LookupError:
            raise RuntimeError(message) from None
        return target(ctx)

    class ContextProxy(LocalProxy):  # type: ignore[type-arg]
        __slots__ = ()

        def __getattribute__(self, name: str) -> Any:
            if name[0] == "_":
                return _object_getattribute(self, name)
            return getattr(current(), name)

        def __getitem__(self, key: Any) -> Any:
            return current()[key]

        def __setitem__(self, key: Any, value: Any) -> None:
            current()[key] = value

        def __contains__(self, key: Any) -> bool:
            return key in current()

    return ContextProxy(current)


_object_getattribute = object.__getattribute__
#: The current request (a :class:`Request`); usable in views, hooks and templates.
request: Request = _proxy("request")
#: The current session, a dict stored in a signed cookie (needs ``App(secret_key=...)``).
session: Session = _proxy("session")
#: The app handling the current request.
current_app: App = _proxy("current_app")


def _context(what: str) -> _RequestContext:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(_OUTSIDE.format(what)) from None


# ---------------------------------------------------------------- helpers for views


def abort(code: int | Response, description: str | None = None) -> NoReturn:
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
    return _werkzeug_redirect(_encode_unsafe_in_url(location), code)


def url_for(endpoint: str, /, **values: Any) -> str:
    """Build the URL of ``endpoint`` for the current app (see :meth:`App.url_for`)."""
    return _context("url_for").app.url_for(endpoint, **values)


def render(template_name: str, /, **context: Any) -> str:
    """Render a template with the current app's ``templates`` hook."""
    app = _context("render").app
    if app.templates is None:
        raise RuntimeError(
            "No template renderer: create the app with App(templates=...), e.g. StringTemplates('templates')."
        )
    return app.templates(template_name, context)


# ---------------------------------------------------------------- response headers

_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def _encode_unsafe_in_url(url: str) -> str:
    """``url`` with its control characters and spaces percent-encoded, so it fits in a header line."""
    # Encoded, not dropped as iri_to_uri drops CR, LF and tab: "/\n/evil.example" must not become "//evil.example".
    return _UNSAFE_IN_URL.sub(lambda found: f"%{ord(found.group()):02X}", url)


# A header name is an HTTP token; a status or header value holds tabs, spaces and visible Latin-1
# characters only (RFC 9110 5.5), so no CR, LF or NUL can end its line and start another one.
_NOT_TOKEN = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_NOT_FIELD_TEXT = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_URL_HEADERS = frozenset({"location", "content-location"})


def _header_problem(status: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """Why this status and these headers must not be sent (header injection), or None if they may.

    The message names the header, never the value: that may be anything a client sent.
    """
    if _NOT_FIELD_TEXT.search(status):
        return "The response status has a control or non-Latin-1 character"
    for name, value in headers:
        if not name or _NOT_TOKEN.search(name):
            return f"The response header name {name!r} is not an HTTP token"
        if name.lower() in _URL_HEADERS:
            # Werkzeug makes these URIs when it sends them (iri_to_uri: all but ASCII text percent-encoded), where
            # a failure would escape every handler. Only a URL with a host ("//") can fail: the rest skip the cost.
            if "//" in value:
                try:
                    iri_to_uri(value)
                except ValueError:
                    return f"The value of the response header {name!r} is not a URL"
        elif _NOT_FIELD_TEXT.search(value):
            return f"The value of the response header {name!r} has CR, LF, NUL, another control or non-Latin-1 text"
    return None


def _check_headers(status: str, headers: Iterable[tuple[str, str]]) -> None:
    """Raise ValueError if this status and these headers must not be sent (see ``_header_problem``)."""
    problem = _header_problem(status, headers)
    if problem is not None:
        raise ValueError(f"{problem}: the response is refused, so nothing can be injected into it.")


# ---------------------------------------------------------------- resources


class Resource(Generic[T]):
    """A request-scoped value made by a generator function (see :meth:`App.resource`)."""

    def __init__(self, factory: Callable[[], Iterator[T]]) -> None:
        self.factory = factory
        self.name = getattr(factory, "__name__", repr(factory))
        self.__doc__ = factory.__doc__

    def __call__(self) -> T:
        """The value for this request: opened on first use, then reused."""
        ctx = _context(f"resource {self.name!r}")
        if ctx.closed:
            raise RuntimeError(f"Resource {self.name!r} was used after the request's resources were closed.")
        opened = ctx.resources
        if opened is None:
            opened = ctx.resources = {}
        elif self in opened:
            return cast(T, opened[self][1])
        gen = self.factory()
        try:
            value = next(gen)
        except HTTPException:
            raise
        except Exception as exc:
            logger.error("Resource %r could not be opened", self.name, exc_info=exc)
            raise ServiceUnavailable(
                "A resource this page needs is unavailable right now; please try again shortly."
            ) from exc
        opened[self] = (gen, value)
        return value

    def finish(self, gen: Iterator[Any], error: BaseException | None) -> None:
        """Run the generator past its ``yield``: normally, or with ``error`` thrown in."""
        if error is None:
            try:
                next(gen)
            except StopIteration:
                return
            cast(Any, gen).close()
            raise RuntimeError(f"Resource {self.name!r} yielded more than once.")
        own_traceback = error.__traceback__
        try:
            cast(Any, gen).throw(error)
        except StopIteration:
            pass
        except BaseException as exc:
            if exc is not error:
                raise
        finally:
            # throw() adds the resource's frames on top of the error's traceback; the teardown
            # hooks and the server get it back as it was logged, pointing where it was raised.
            error.__traceback__ = own_traceback
            cast(Any, gen).close()


# ---------------------------------------------------------------- streaming


class _StreamingBody:
    """A streamed body that keeps the request context alive until the server closes it."""

    def __init__(self, ctx: _RequestContext, body: Iterable[bytes]) -> None:
        self.ctx = ctx
        self.body = body
        self.iterator = iter(body)
        self.complete = False
        self.closed = False

    def __iter__(self) -> _StreamingBody:
        return self

    def __next__(self) -> bytes:
        token = _current.set(self.ctx)
        try:
            return next(self.iterator)
        except StopIteration:
            self.complete = True
        except Exception as exc:
            # The headers are out: all that is left is to log and let the server drop the connection.
            self.ctx.error = exc
            logger.error("Exception while streaming %s", _describe(self.ctx), exc_info=exc)
            raise
        finally:
            _current.reset(token)
        self._commit()
        raise StopIteration

    def _commit(self) -> None:
        """Finalize the resources before the server ends the body, not when it closes it.

        A commit that fails then reaches the server as an exception instead of the
        end of the body, so a chunked response goes without its last chunk and the
        client cannot take it for complete. (A body with a Content-Length of its
        own has all its bytes out by then.)
        """
        ctx = self.ctx
        if not ctx.resources:
            return
        token = _current.set(ctx)  # commit code may still use request and the like
        try:
            failure = ctx.app._close_resources(ctx)
        finally:
            _current.reset(token)
        if failure is not None:
            raise failure  # already logged

    def close(self) -> None:
        if self.closed:  # a second close() (a middleware's and its server's): the request ended once
            return
        self.closed = True
        ctx = self.ctx
        if not self.complete and ctx.error is None:
            # The client went away (or the server gave up): what was not sent did not happen.
            ctx.error = ClientDisconnected("The response was closed before it was sent completely.")
        token = _current.set(ctx)
        try:
            close = getattr(self.body, "close", None)
            try:
                if close is not None:
                    close()
            finally:
                ctx.app._finish(ctx)
        finally:
            _current.reset(token)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _describe(ctx: _RequestContext) -> str:
    """The request in a log line: its control characters escaped, so a path cannot forge log lines."""
    env = ctx.environ
    text = f"{env.get('REQUEST_METHOD')} {env.get('SCRIPT_NAME', '')}{env.get('PATH_INFO', '')} [{ctx.endpoint}]"
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
