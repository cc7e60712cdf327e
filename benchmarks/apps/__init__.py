"""The same views written for each framework, one module per framework.

Each module has ``build() -> dict[str, WSGIApp]``: the ``main`` app with
every scenario's route (plus ``/login``, which sets the session), a ``hooked``
app whose after-request hook adds ``X-Hook: yes``, and a ``jinja2`` app where
the framework renders with Jinja2 (frameworks with one app for everything map
several names to the same app). Scenarios pick an app by name; a framework
without that app (Jinja2 not installed) leaves the scenario out.
Modules for routing scaling also have ``build_routes(n)``.
A module's framework is imported with the module: a missing one is an
ImportError the caller reports.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..wsgi import WSGIApp

#: Framework name -> module, in the order tables show them (the floor first).
FRAMEWORKS: dict[str, str] = {
    "raw": "benchmarks.apps.raw_app",
    "microweb": "benchmarks.apps.microweb_app",
    "falcon": "benchmarks.apps.falcon_app",
    "bottle": "benchmarks.apps.bottle_app",
    "flask": "benchmarks.apps.flask_app",
    "pyramid": "benchmarks.apps.pyramid_app",
}


def module(name: str) -> ModuleType:
    """The app module of framework ``name``; ImportError when the framework is not installed."""
    return importlib.import_module(FRAMEWORKS[name])


def build(name: str) -> dict[str, WSGIApp]:
    """All apps of framework ``name``, by variant."""
    apps: dict[str, WSGIApp] = module(name).build()
    return apps
