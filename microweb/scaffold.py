"""What App and Blueprint share: the route decorators, and the hooks and error handlers of one scope.

A request runs the hooks of its endpoint's :class:`HookChain`: every scope's hooks that
apply to it, flattened once, so that a request walks one tuple whatever scope a hook
was registered in. The hook lists are :class:`HookList` objects, which tell their scope
when they change; the apps the scope is part of then make their chains again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

__all__ = ["HookChain", "HookList", "Scaffold"]

F = TypeVar("F", bound=Callable[..., Any])
H = TypeVar("H")
ErrorHandler = Callable[[Any], Any]
BeforeHook = Callable[[], Any]
AfterHook = Callable[[BaseResponse], BaseResponse]
TeardownHook = Callable[[BaseException | None], Any]


class HookList(list[H]):
    """A scope's list of hooks: a list that calls its scope's :meth:`Scaffold.hooks_changed` whenever it changes.

    So ``app.after_request_funcs.remove(hook)``, ``.clear()`` or ``.insert(0, hook)`` take
    effect from the next request, as with the decorators.
    """

    __slots__ = ("_scope",)

    def __init__(self, scope: Scaffold, funcs: Iterable[H] = ()) -> None:
        super().__init__(funcs)
        # Weak: the list is the scope's own; it must not keep the scope alive in a cycle.
        self._scope = weakref.ref(scope)

    def changed(self) -> None:
        """Tell the scope (if it still exists) that its hooks changed."""
        scope = self._scope()
        if scope is not None:
            scope.hooks_changed()


def _and_tell(method: Callable[..., Any]) -> Callable[..., Any]:
    def changing(self: HookList[Any], *args: Any) -> Any:
        result = method(self, *args)
        self.changed()
        return result

    changing.__name__ = changing.__qualname__ = method.__name__
    changing.__doc__ = method.__doc__
    return changing


# Every list method that changes the list in place.
for _name in (
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
    "__setitem__", "__delitem__", "__iadd__", "__imul__",
):  # fmt: skip
    setattr(HookList, _name, _and_tell(getattr(list, _name)))


class HookChain:
    """The hooks and error-handler scopes that apply to the requests of one endpoint, in the order they run.

    Made by :meth:`microweb.App.hook_chain` from the scopes (app first, then each blueprint from the
    outermost in) when first needed, and made again after any of their hooks change.
    """

    __slots__ = ("after", "before", "blueprint", "scopes", "teardown")

    def __init__(self, blueprint: str | None, scopes: tuple[Scaffold, ...]) -> None:
        #: The dotted name of the endpoint's blueprint, or None (the app's own, or no endpoint).
        self.blueprint = blueprint
        #: The scopes, innermost first: where error handlers are looked up.
        self.scopes = scopes
        outermost_first = scopes[::-1]
        #: The before hooks: the app's, then each blueprint's from the outermost in.
        self.before: tuple[BeforeHook, ...] = tuple(f for s in outermost_first for f in s.before_request_funcs)
        #: The after hooks: the innermost blueprint's first, the app's last (each scope's in registration order).
        self.after: tuple[AfterHook, ...] = tuple(f for s in scopes for f in s.after_request_funcs)
        #: The teardown hooks, in the order of the after hooks.
        self.teardown: tuple[TeardownHook, ...] = tuple(f for s in scopes for f in s.teardown_request_funcs)

    def __repr__(self) -> str:
        return (
            f"<HookChain {self.blueprint or 'app'}: {len(self.before)} before, {len(self.after)} after, "
            f"{len(self.teardown)} teardown>"
        )


class Scaffold:
    """Routes, hooks and error handlers, for an App or a Blueprint (each subclass says where routes go)."""

    def __init__(self) -> None:
        self._before_request_funcs: HookList[BeforeHook] = HookList(self)
        self._after_request_funcs: HookList[AfterHook] = HookList(self)
        self._teardown_request_funcs: HookList[TeardownHook] = HookList(self)
        #: Handlers by status code or exception class (read at the time of each error).
        self.error_handlers: dict[int | type[BaseException], ErrorHandler] = {}

    @property
    def before_request_funcs(self) -> list[BeforeHook]:
        """Run before each view of this scope; a non-None return value is the response."""
        return self._before_request_funcs

    @before_request_funcs.setter
    def before_request_funcs(self, funcs: list[BeforeHook]) -> None:
        self._before_request_funcs = HookList(self, funcs)
        self.hooks_changed()

    @property
    def after_request_funcs(self) -> list[AfterHook]:
        """Run with each response of this scope; each returns the response to send."""
        return self._after_request_funcs

    @after_request_funcs.setter
    def after_request_funcs(self, funcs: list[AfterHook]) -> None:
        self._after_request_funcs = HookList(self, funcs)
        self.hooks_changed()

    @property
    def teardown_request_funcs(self) -> list[TeardownHook]:
        """Run with the request's error (or None) when a request of this scope ends."""
        return self._teardown_request_funcs

    @teardown_request_funcs.setter
    def teardown_request_funcs(self, funcs: list[TeardownHook]) -> None:
        self._teardown_request_funcs = HookList(self, funcs)
        self.hooks_changed()

    def hooks_changed(self) -> None:
        """Called when a hook of this scope is added, removed or replaced: the hook chains must be made again."""

    def add_route(
        self,
        rule: str,
        view_func: Callable[..., Any],
        methods: Iterable[str] | None = None,
        endpoint: str | None = None,
        **options: Any,
    ) -> None:
        """Map ``rule`` to ``view_func`` (see :meth:`microweb.App.add_route`)."""
        raise NotImplementedError

    def route(self, rule: str, methods: Iterable[str] | None = None, **options: Any) -> Callable[[F], F]:
        """Decorator form of :meth:`add_route`."""

        def decorator(view_func: F) -> F:
            self.add_route(rule, view_func, methods, **options)
            return view_func

        return decorator

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["GET"])``."""
        return self.route(rule, ["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["POST"])``."""
        return self.route(rule, ["POST"], **options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PUT"])``."""
        return self.route(rule, ["PUT"], **options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PATCH"])``."""
        return self.route(rule, ["PATCH"], **options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["DELETE"])``."""
        return self.route(rule, ["DELETE"], **options)

    def before_request(self, func: F) -> F:
        """Run ``func()`` before each view of this scope; a non-None return value is the response."""
        self.before_request_funcs.append(func)
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(response)`` after each view of this scope; it returns the response to send."""
        self.after_request_funcs.append(func)
        return func

    def teardown_request(self, func: F) -> F:
        """Run ``func(error_or_None)`` at the end of every request of this scope, whatever happened."""
        self.teardown_request_funcs.append(func)
        return func

    def errorhandler(self, code_or_exception: int | type[BaseException]) -> Callable[[F], F]:
        """Handle an HTTP status code or an exception class (the closest class in the MRO wins)."""

        def decorator(func: F) -> F:
            self.error_handlers[code_or_exception] = func
            return func

        return decorator

    def error_handler_in_scope(self, exc: BaseException) -> ErrorHandler | None:
        """This scope's handler for ``exc``: for its status code, else for the closest class in its MRO."""
        handlers = self.error_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException) and exc.code in handlers:
            return handlers[exc.code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None
