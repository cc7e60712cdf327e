"""The context variable that holds the current request's context, and the proxies that read it.

Only the variable and the proxies live here, so every other module can import
them without importing the app or the context class (no import cycle).
"""

from __future__ import annotations

from contextvars import ContextVar
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from .app import App
    from .ctx import G, RequestContext
    from .sessions import Session
    from .wrappers import Request

__all__ = ["context_var", "current_app", "current_context", "g", "request", "session"]

#: The current :class:`~microweb.ctx.RequestContext`: local to each thread and each asyncio task.
context_var: ContextVar[RequestContext] = ContextVar("microweb.request_context")

_OUTSIDE = (
    "{} is only available while a request is being handled: use it in a view, a hook or a template "
    "(in tests, make a request with app.test_client(), or enter app.test_request_context())."
)


def current_context(what: str = "the request context") -> RequestContext:
    """The current request's context; a RuntimeError saying what to do outside a request."""
    try:
        return context_var.get()
    except LookupError:
        raise RuntimeError(_OUTSIDE.format(what)) from None


_object_getattribute = object.__getattribute__


def _proxy(attribute: str) -> Any:
    """A LocalProxy for ``current_context().<attribute>``, with its hot paths made direct.

    PERF: LocalProxy resolves ``request.args`` through a failed attribute lookup and a
    chain of descriptors, about 1 µs on every read in every view. This subclass reads
    public attributes and items straight off the context; everything else (private
    names, operators, ``repr``) is LocalProxy's.
    """
    message = _OUTSIDE.format(attribute)
    target = attrgetter(attribute)
    get = context_var.get

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


#: The current request (a :class:`~microweb.Request`); usable in views, hooks and templates.
request: Request = _proxy("request")
#: The current session, a dict stored in a signed cookie (needs ``App(secret_key=...)``).
session: Session = _proxy("session")
#: The app handling the current request.
current_app: App = _proxy("app")
#: A namespace for the current request's own values (``g.user = ...``); empty at the start of each request.
g: G = _proxy("g")
