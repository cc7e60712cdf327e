"""Class-based views, as Flask has them: :class:`View` and :class:`MethodView`.

``app.add_route("/items/<int:item_id>", ItemAPI.as_view("item"))`` registers the
class; each request gets a new instance (``init_every_request``) whose method for
the request's HTTP method answers it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, ClassVar, Generic, ParamSpec, Protocol, TypeVar, cast

from .ctx import current_context

__all__ = ["MethodView", "View", "ViewFunction"]

#: The methods a :class:`MethodView` subclass answers by defining a method of that name.
HTTP_METHOD_FUNCS = frozenset({"get", "post", "head", "options", "delete", "put", "trace", "patch"})

V = TypeVar("V", bound="View")
P = ParamSpec("P")


class ViewFunction(Protocol, Generic[V]):
    """What :meth:`View.as_view` returns: a view function that knows its class and methods."""

    __name__: str
    #: The class the function makes an instance of.
    view_class: type[V]
    #: The HTTP methods the route gets when ``add_route`` is given none.
    methods: Collection[str] | None

    def __call__(self, **view_args: Any) -> Any: ...


class View:
    """A view as a class: override :meth:`dispatch_request`, register ``YourView.as_view("name")``.

    Class attributes: ``methods`` (the route's HTTP methods when ``add_route`` gets
    none), ``decorators`` (applied to the view function, first one innermost), and
    ``init_every_request`` (False: one instance for all requests, so keep no
    request's data on it).
    """

    methods: ClassVar[Collection[str] | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True

    def dispatch_request(self, **view_args: Any) -> Any:
        """Answer the request; ``view_args`` are the URL's values."""
        raise NotImplementedError(f"{type(self).__qualname__} must define dispatch_request(**view_args).")

    @classmethod
    def as_view(cls: Callable[P, V], name: str, /, *class_args: P.args, **class_kwargs: P.kwargs) -> ViewFunction[V]:
        """A view function named ``name`` (the endpoint) that answers with an instance of this class.

        ``class_args`` and ``class_kwargs`` go to the constructor (type-checked against
        it): each request, or once with ``init_every_request = False``.
        """
        view_class = cast("type[V]", cls)
        if view_class.init_every_request:

            def view(**view_args: Any) -> Any:
                return cls(*class_args, **class_kwargs).dispatch_request(**view_args)

        else:
            instance = cls(*class_args, **class_kwargs)

            def view(**view_args: Any) -> Any:
                return instance.dispatch_request(**view_args)

        view.__name__ = view.__qualname__ = name
        view.__module__ = view_class.__module__
        view.__doc__ = view_class.__doc__
        for decorator in view_class.decorators:
            view = decorator(view)
        function = cast(ViewFunction[V], view)
        function.__name__ = name
        function.view_class = view_class
        function.methods = view_class.methods
        return function


class MethodView(View):
    """A view whose methods (``get``, ``post``, ``put``, ...) answer the HTTP methods of the same names.

    The route's methods are the ones the class (or its bases) defines: ``POST`` to a
    class without ``post`` is a 405 whose ``Allow`` lists the others. ``HEAD`` is
    answered by ``get`` unless the class defines ``head``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:  # given explicitly
            return
        methods = {name.upper() for name in HTTP_METHOD_FUNCS if callable(getattr(cls, name, None))}
        for base in cls.__bases__:
            methods.update(getattr(base, "methods", None) or ())
        cls.methods = frozenset(methods) or None

    def dispatch_request(self, **view_args: Any) -> Any:
        """Call the method named after the request's HTTP method (``get`` for ``HEAD`` without ``head``)."""
        method = current_context().environ["REQUEST_METHOD"]
        handler = getattr(self, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            raise NotImplementedError(
                f"{type(self).__qualname__} has no {method.lower()}() for {method} requests: define it, "
                f"or leave {method} out of the route's methods."
            )
        return handler(**view_args)
