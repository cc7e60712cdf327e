"""The request context: one object per request that owns its values and ends it exactly once.

:class:`RequestContext` is pushed when a request starts and popped when the app
returns to the server. It ends (resources committed or rolled back, teardown
hooks run, uploads closed) when the response is complete: before the body is
sent when the body is in memory, when the server closes it when it is streamed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar, Token, copy_context
from itertools import repeat, starmap
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import ClientDisconnected, HTTPException

from ._werkzeug import encoded_source
from .config import RequestSettings
from .http import describe_request

if TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Response as BaseResponse

    from .config import Config
    from .routing import RuleMapAdapter
    from .scaffold import HookChain
    from .sessions import Session, SessionCookie
    from .wrappers import Request, Response

__all__ = ["G", "OUTSIDE_REQUEST", "RequestContext", "StreamedBody", "context_var", "current_context"]


#: The current :class:`RequestContext`: local to each thread and each asyncio task.
context_var: ContextVar[RequestContext] = ContextVar("microweb.request_context")
#: A request's URL builders before ``App.build_url`` gives it the app's: none (never written to).
NO_BUILDERS: Mapping[Any, Callable[..., str | None]] = {}

#: What to say when something that needs a request is used outside one.
OUTSIDE_REQUEST = (
    "{} is only available while a request is being handled: use it in a view, a hook or a template "
    "(in tests, make a request with app.test_client(), or enter app.test_request_context())."
)


def current_context(what: str = "the request context") -> RequestContext:
    """The current request's context; a RuntimeError saying what to do outside a request."""
    try:
        return context_var.get()
    except LookupError:
        raise RuntimeError(OUTSIDE_REQUEST.format(what)) from None


class ContextApp(Protocol):
    """What a request context needs of its app (the App; a protocol, so that this module need not import it)."""

    @property
    def config(self) -> Config: ...
    @property
    def request_settings(self) -> RequestSettings: ...
    @property
    def templates(self) -> Callable[[str, dict[str, Any]], str] | None: ...
    @property
    def request_class(self) -> type[Request]: ...
    @property
    def g_class(self) -> type[G]: ...
    @property
    def session_cookie(self) -> SessionCookie: ...
    @property
    def logger(self) -> logging.Logger: ...
    @property
    def root_path(self) -> str: ...
    @property
    def response_class(self) -> type[Response]: ...
    @property
    def hook_chains(self) -> Mapping[str | None, HookChain]: ...
    def do_teardown_request(self, ctx: RequestContext) -> None: ...
    def url_for(self, endpoint: str, /, **values: Any) -> str: ...
    def build_url(self, endpoint: str, values: dict[str, Any], external: bool, anchor: str | None) -> str: ...


class Finisher(Protocol):
    """A request-scoped resource (:class:`~microweb.resources.Resource`), as the context finalizes it."""

    def finish(self, gen: Iterator[Any], error: BaseException | None) -> None: ...


class G:
    """A namespace for one request's own values: ``g.user = ...``, ``g.get("user")``, ``"user" in g``."""

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, *default: Any) -> Any:
        """Remove ``name`` and return its value (or ``default``; a KeyError without one)."""
        return self.__dict__.pop(name, *default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, set to ``default`` first if it has none."""
        return self.__dict__.setdefault(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        return f"<microweb.g {self.__dict__!r}>"


class RequestContext:
    """Everything that belongs to one request, on this instance and nowhere else.

    Made by :meth:`App.request_context`; :meth:`push` makes it current, :meth:`end`
    finishes the request once, :meth:`pop` makes the previous context current again.
    """

    __slots__ = (
        "app",
        "environ",
        "endpoint",
        "view_args",
        "blueprint",
        "hooks",
        "url_adapter",
        "url_builders",
        "url_root",
        "url_external",
        "routing_error",
        "error",
        "responder",
        "resources",
        "flashes",
        "ended",
        "_request",
        "session_loaded",
        "_g",
        "_tokens",
        "_resources_closed",
    )

    #: The app's relative and external root URL (ending in a slash) the ``url_builders`` take; set with them.
    url_root: str
    url_external: str

    def __init__(self, app: ContextApp, environ: WSGIEnvironment) -> None:
        self.app = app
        self.environ = environ
        #: The endpoint of the matched rule (None until matched, or when nothing matched).
        self.endpoint: str | None = None
        #: The matched rule's values, this request's own dict (None when no rule matched).
        self.view_args: dict[str, Any] | None = None
        #: The dotted name of the blueprint whose view matched, or None.
        self.blueprint: str | None = None
        #: The hooks that apply to this request: the matched endpoint's, the app's own until then.
        self.hooks: HookChain = app.hook_chains[None]
        #: The MapAdapter bound to this request, once one was needed.
        self.url_adapter: RuleMapAdapter | None = None
        #: The URL builders compiled per endpoint, once ``url_for`` may build through them directly
        #: (see ``App.build_url``), with the app's root URL ``url_root``; none until then.
        self.url_builders: Mapping[Any, Callable[..., str | None]] = NO_BUILDERS
        #: The 404, 405 or redirect matching raised, kept for after the before hooks.
        self.routing_error: HTTPException | None = None
        #: The exception the request failed with, if any: resources roll back, teardown hooks get it.
        self.error: BaseException | None = None
        #: Who returned the value being made a response, for error messages; None: the view.
        self.responder: str | None = None
        #: Opened resources and their generators, in opening order (None until one opens).
        self.resources: dict[Finisher, tuple[Iterator[Any], Any]] | None = None
        #: The flashed messages this request took from the session (see ``get_flashed_messages``), once it did.
        self.flashes: list[tuple[str, str]] | None = None
        #: Whether the request has ended (see :meth:`end`).
        self.ended = False
        self._request: Request | None = None
        #: The session if this request used it, else None (nothing to save).
        self.session_loaded: Session | None = None
        self._g: G | None = None
        self._tokens: list[Token[RequestContext]] = []
        self._resources_closed = False

    # ------------------------------------------------------------ what views reach

    @property
    def request(self) -> Request:
        """The request object, built on first use (many views never touch it)."""
        req = self._request
        if req is None:
            app = self.app
            settings = app.request_settings
            if settings.version != app.config.version:  # changed since the request started
                settings = RequestSettings(app.config)
            req = self._request = app.request_class(self.environ)
            req.max_content_length = settings.max_content_length
            req.max_form_memory_size = settings.max_form_memory_size
            req.max_form_parts = settings.max_form_parts
            req.endpoint = self.endpoint
            req.view_args = self.view_args
            req.blueprint = self.blueprint
        return req

    @property
    def session(self) -> Session:
        """The session, read from its cookie on first use."""
        session = self.session_loaded
        if session is None:
            cookie = self.app.session_cookie
            session = self.session_loaded = cookie.load(self.request.cookies.get(cookie.name))
        return session

    @property
    def g(self) -> G:
        """This request's :class:`~microweb.ctx.G` namespace."""
        g = self._g
        if g is None:
            g = self._g = self.app.g_class()
        return g

    def matched(self, endpoint: str, view_args: dict[str, Any] | None) -> None:
        """Record what matched, and the hooks that apply to it; ``view_args`` becomes this request's own."""
        self.endpoint = endpoint
        self.view_args = view_args
        hooks = self.hooks = self.app.hook_chains[endpoint]
        blueprint = self.blueprint = hooks.blueprint
        req = self._request
        if req is not None:  # a hook that ran before matching built it
            req.endpoint, req.view_args, req.blueprint = endpoint, view_args, blueprint

    def describe(self) -> str:
        """The request in a log line, escaped so that a path cannot forge log lines."""
        return describe_request(self.environ, self.endpoint)

    # ------------------------------------------------------------ the lifecycle

    def push(self) -> None:
        """Make this the current context (nested pushes are undone in order by :meth:`pop`)."""
        self._tokens.append(context_var.set(self))

    def pop(self) -> None:
        """Make the context current before the last :meth:`push` current again."""
        context_var.reset(self._tokens.pop())

    def __enter__(self) -> RequestContext:
        """Push the context: ``with app.test_request_context("/"):``."""
        self.push()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """End the request (with the block's exception, if any), then pop; a failed commit is raised."""
        try:
            failure = self.end(exc)
        finally:
            self.pop()
        if failure is not None and exc is None:
            raise failure  # a commit that did not happen must not pass silently

    def close_resources(self) -> Exception | None:
        """Commit the opened resources, or roll them back if the request failed; once.

        Returns the exception (logged) if finalizing failed: a commit that did not
        happen must not be reported as a success.
        """
        if self._resources_closed:
            return None
        self._resources_closed = True
        if not self.resources:
            return None
        first_error: Exception | None = None
        for resource, (gen, _value) in reversed(list(self.resources.items())):
            try:
                resource.finish(gen, self.error)
            except Exception as exc:
                first_error = first_error or exc
                self.error = self.error or exc  # the resources still open roll back
        if first_error is not None:
            self.app.logger.error("Exception while closing the resources of %s", self.describe(), exc_info=first_error)
        return first_error

    @property
    def resources_closed(self) -> bool:
        """Whether the resources were finalized: too late to open one."""
        return self._resources_closed

    def end(self, error: BaseException | None = None) -> Exception | None:
        """End the request, once: finalize the resources, run the teardown hooks, close the uploads.

        ``error`` is what the request failed with, if it did not fail in the app (the
        server's SystemExit, a client gone). Returns the resources' failure, as
        :meth:`close_resources` does.
        """
        if self.ended:
            return None
        self.ended = True
        if error is not None and self.error is None:
            self.error = error
        failure = self.close_resources() if self.resources else None
        self._resources_closed = True
        self.app.do_teardown_request(self)
        if self._request is not None:
            self._request.close()  # uploaded files: closed now, not whenever the garbage collector runs
            self.environ["werkzeug.request"] = None  # environ <-> request is a cycle
        # So is error -> traceback -> frames -> ctx. Without cycles, a request's memory is freed
        # as it ends instead of waiting for the cycle collector (which lets RSS creep up meanwhile).
        self.error = self.routing_error = None
        return failure


class StreamedBody:
    """A streamed response body that keeps its request open until the server closes it (PEP 3333).

    Each chunk is made in a copy of the context the view ran in (``contextvars``), so the
    view's generator can use ``request`` and resources, and a context variable it sets stays
    its own. The resources are finalized when the last chunk has been produced, before the
    server ends the body: a failed commit then reaches the server as an exception, so a
    chunked response goes without its last chunk.

    ``body`` is what the response's ``__call__`` returned; when that is Werkzeug's own
    wrapping of the view's iterable, the view's iterable is read directly (str chunks
    encoded as Werkzeug would) and ``body`` is only closed.
    """

    __slots__ = ("body", "chunks", "closed", "complete", "context", "ctx")

    def __init__(self, ctx: RequestContext, body: Iterable[bytes], response: BaseResponse | None = None) -> None:
        self.ctx = ctx
        self.body = body
        source = None if response is None else encoded_source(response, body)
        self.complete = False
        self.closed = False
        # PERF: one copy now (the request context is current), entered per chunk in C, not pushed in Python.
        self.context = copy_context()
        #: What the server iterates: one generator, so that a chunk costs one resumed frame
        #: (``__iter__`` returns it; the server keeps this object for ``close``).
        self.chunks: Iterator[bytes] = self._stream(iter(body if source is None else source), source is not None)

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def __next__(self) -> bytes:
        return next(self.chunks)

    def _stream(self, iterator: Iterator[Any], encodes: bool) -> Iterator[bytes]:
        """The chunks, each made in the copied context; str ones encoded when they come from the view."""
        ctx, run = self.ctx, self.context.run
        # PERF: starmap calls run(next, iterator) in C; the StopIteration that next raises ends
        # starmap, and with it the loop (no Python frame per chunk but this one's).
        made = starmap(run, repeat((next, iterator)))
        try:
            if encodes:
                for chunk in made:
                    if type(chunk) is str:  # PERF: the usual chunk, one cheap test
                        yield chunk.encode()
                    else:  # as Werkzeug's _iter_encoded: a str subclass's own encode, anything else as it is
                        yield chunk.encode() if isinstance(chunk, str) else chunk
            else:
                yield from made
        except Exception as exc:
            # The headers are out: all that is left is to log and let the server drop the connection.
            ctx.error = exc
            ctx.app.logger.error("Exception while streaming %s", ctx.describe(), exc_info=exc)
            raise
        self.complete = True
        failure = run(ctx.close_resources)
        if failure is not None:
            raise failure from None  # already logged

    def close(self) -> None:
        """End the request: the server is done with the body (sent, or given up on)."""
        if self.closed:  # a second close() (a middleware's and its server's): the request ended once
            return
        self.closed = True
        ctx = self.ctx
        if not self.complete and ctx.error is None:
            # The client went away (or the server gave up): what was not sent did not happen.
            ctx.error = ClientDisconnected("The response was closed before it was sent completely.")
        chunks: Any = self.chunks
        if not self.complete and not chunks.gi_running:  # left suspended (its frame holds self): let go
            chunks.close()
        self.context.run(self._close)

    def _close(self) -> None:
        close = getattr(self.body, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self.ctx.end()
