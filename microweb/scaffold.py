"""What App and Blueprint share: the route decorators, and the hooks and error handlers of one scope."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

__all__ = ["Scaffold"]

F = TypeVar("F", bound=Callable[..., Any])
ErrorHandler = Callable[[Any], Any]


class Scaffold:
    """Routes, hooks and error handlers, for an App or a Blueprint (each subclass says where routes go)."""

    def __init__(self) -> None:
        #: Run before each view of this scope; a non-None return value is the response.
        self.before_request_funcs: list[Callable[[], Any]] = []
        #: Run with each response of this scope; each returns the response to send.
        self.after_request_funcs: list[Callable[[BaseResponse], BaseResponse]] = []
        #: Run with the request's error (or None) when a request of this scope ends.
        self.teardown_request_funcs: list[Callable[[BaseException | None], Any]] = []
        #: Handlers by status code or exception class.
        self.error_handlers: dict[int | type[BaseException], ErrorHandler] = {}

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
