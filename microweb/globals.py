"""The proxies that views, hooks and templates read the current request through.

Only the proxies live here (the context variable is ``ctx.context_var``): the
app and the context never import this module, so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from werkzeug.local import LocalProxy

from .ctx import OUTSIDE_REQUEST, RequestContext, context_var

if TYPE_CHECKING:
    from .app import App
    from .ctx import G
    from .sessions import Session
    from .wrappers import Request

__all__ = ["current_app", "g", "request", "session"]

_object_getattribute = object.__getattribute__


def _attribute_reader(attribute: str, message: str) -> Callable[[Any, str], Any]:
    """The proxy's ``__getattribute__``: private names are the proxy's own, public ones the current object's.

    PERF: the context is looked up here, not through a call (a Python frame less on every read);
    the request proxy takes the request once built straight from the context.
    """
    target = attrgetter(attribute)
    get = context_var.get

    is_request = attribute == "request"

    def read(self: Any, name: str) -> Any:
        if name[0] == "_":
            return _object_getattribute(self, name)
        try:
            ctx = get()
        except LookupError:
            raise RuntimeError(message) from None
        if is_request:
            req = ctx._request
            if req is None or type(ctx) is not RequestContext:  # not built yet, or a subclass's own property
                req = ctx.request
            return getattr(req, name)
        return getattr(target(ctx), name)

    return read


def _proxy(attribute: str) -> Any:
    """A LocalProxy for ``current_context().<attribute>``, with its hot paths made direct.

    PERF: LocalProxy resolves ``request.args`` through a failed attribute lookup and a
    chain of descriptors, about 1 µs on every read in every view. This subclass reads and sets
    public attributes, and reads items, straight off the context; everything else (private
    names, operators, ``repr``) is LocalProxy's.
    """
    message = OUTSIDE_REQUEST.format(attribute)
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

        __getattribute__ = _attribute_reader(attribute, message)

        def __setattr__(self, name: str, value: Any) -> None:
            if name[0] == "_":
                super().__setattr__(name, value)
            else:  # PERF: g.user = ... in a hook, without LocalProxy's descriptor chain
                setattr(current(), name, value)

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
