"""Blueprints: a part of an app in a module of its own, with its routes, prefix, hooks and error handlers."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .scaffold import Scaffold

__all__ = ["Blueprint"]


class Registrar(Protocol):
    """What a blueprint needs of the app it is registered on (the App; a protocol, so no import cycle)."""

    def add_blueprint_route(
        self,
        blueprint: str,
        prefix: str,
        rule: str,
        view_func: Callable[..., Any],
        methods: Iterable[str] | None,
        endpoint: str | None,
        options: dict[str, Any],
    ) -> None: ...

    def register_blueprint(
        self,
        blueprint: Blueprint,
        *,
        url_prefix: str | None = None,
        name: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> None: ...

    def hooks_changed(self) -> None: ...


class Blueprint(Scaffold):
    """A set of routes, hooks and error handlers that an app takes in with :meth:`App.register_blueprint`.

    ``Blueprint("admin", __name__, url_prefix="/admin")``: its endpoints are named
    ``"admin.<view>"`` and its rules are put under the prefix. Its before, after and
    teardown hooks and its error handlers apply to its own views only (and to those of
    the blueprints registered on it). Routes and hooks may be added before or after it
    is registered.

    :param name: the blueprint's name, the first part of its endpoints (no dots).
    :param import_name: the module it lives in (``__name__``); a relative
        ``static_folder`` is taken from that module's directory.
    :param url_prefix: the path its rules go under; ``register_blueprint`` may override it.
    :param static_folder: serve this folder's files at ``url_prefix + static_url_path``
        (endpoint ``"<name>.static"``).
    """

    def __init__(
        self,
        name: str,
        import_name: str,
        *,
        url_prefix: str | None = None,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str = "/static",
    ) -> None:
        if not name or "." in name:
            raise ValueError(
                f"A blueprint's name is one word without dots, not {name!r}: nest with register_blueprint."
            )
        super().__init__()
        self.name = name
        self.import_name = import_name
        self.url_prefix = url_prefix
        self.static_folder = None if static_folder is None else os.fspath(static_folder)
        self.static_url_path = static_url_path
        #: The routes, as ``add_route`` arguments, in the order they were added.
        self.routes: list[tuple[str, Callable[..., Any], Iterable[str] | None, str | None, dict[str, Any]]] = []
        #: The blueprints registered on this one: ``(blueprint, url_prefix, name)``.
        self.children: list[tuple[Blueprint, str | None, str | None]] = []
        #: Where this blueprint is registered: ``(app, dotted name, url prefix)`` each time.
        # Weak: a blueprint at module level must not keep every app it was registered on (tests make many) alive.
        self._registrations: list[tuple[weakref.ref[Registrar], str, str]] = []

    def add_route(
        self,
        rule: str,
        view_func: Callable[..., Any],
        methods: Iterable[str] | None = None,
        endpoint: str | None = None,
        **options: Any,
    ) -> None:
        """Map ``rule`` (under the blueprint's prefix) to ``view_func``, as endpoint ``"<name>.<endpoint>"``."""
        if endpoint is not None and "." in endpoint:
            raise ValueError(f"A blueprint's endpoint has no dots: {endpoint!r} (the blueprint's name is added).")
        route = (rule, view_func, methods, endpoint, options)
        self.routes.append(route)
        for app, dotted, prefix in self.registrations():  # a route added after registration goes in too
            app.add_blueprint_route(dotted, prefix, *route)

    def registered(self, app: Registrar, dotted: str, prefix: str) -> None:
        """Note that ``app`` took this blueprint in as ``dotted`` under ``prefix`` (from ``App.register_blueprint``)."""
        self._registrations.append((weakref.ref(app), dotted, prefix))

    def hooks_changed(self) -> None:
        """A hook of this blueprint changed: the apps it is registered on make their hook chains again."""
        for app, _dotted, _prefix in self.registrations():
            app.hooks_changed()

    def registrations(self) -> list[tuple[Registrar, str, str]]:
        """The apps this blueprint is registered on (those still alive), with its dotted name and prefix in each."""
        alive = [(app, dotted, prefix) for ref, dotted, prefix in self._registrations if (app := ref()) is not None]
        self._registrations = [(weakref.ref(app), dotted, prefix) for app, dotted, prefix in alive]
        return alive

    def register_blueprint(
        self, blueprint: Blueprint, *, url_prefix: str | None = None, name: str | None = None
    ) -> None:
        """Nest ``blueprint`` in this one: its endpoints become ``"<this>.<that>.<view>"``, prefixes joined."""
        self.children.append((blueprint, url_prefix, name))
        for app, dotted, prefix in self.registrations():
            app.register_blueprint(blueprint, url_prefix=url_prefix, name=name, parent=(dotted, prefix))


def join_paths(prefix: str, rule: str) -> str:
    """``prefix`` and ``rule`` as one path: ``/admin`` + ``/`` is ``/admin/``, ``""`` + ``/x`` is ``/x``."""
    if not prefix:
        return rule
    if not rule:
        return prefix
    return prefix.rstrip("/") + "/" + rule.lstrip("/")
