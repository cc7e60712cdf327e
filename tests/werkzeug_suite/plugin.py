"""Copied in as the ``conftest.py`` of Werkzeug's own tests by ``run.py``: their Request and Response are microweb's.

Every name a Werkzeug module binds to its ``Request`` class (``werkzeug.Request``,
``werkzeug.wrappers.Request``, ``werkzeug.test.Request``, ``EnvironBuilder.request_class``,
...) is pointed at :class:`microweb.Request` before any test module is imported, so
``from werkzeug.wrappers import Request`` and ``Request.from_values`` give microweb's;
and the same for ``Response`` (``send_file``, ``redirect`` and ``HTTPException.get_response``
make microweb's then). Werkzeug's own subclasses (the test client's ``TestResponse``) keep
Werkzeug's class as their base.

Werkzeug's own ``conftest.py`` is replaced: its fixtures start Werkzeug's dev server
(its tests are excluded below) and need packages microweb does not use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
from typing import Any

import pytest
import werkzeug
import werkzeug.wrappers.request
import werkzeug.wrappers.response

import microweb

#: Werkzeug's test modules that make a Request or a Response (the others never do).
MODULES = [
    "tests/test_wrappers.py",
    "tests/test_formparser.py",
    "tests/test_test.py",
    "tests/test_utils.py",
    "tests/test_internal.py",
    "tests/test_debug.py",
    "tests/test_exceptions.py",
    "tests/test_routing.py",
    "tests/test_send_file.py",
    "tests/test_wsgi.py",
    "tests/middleware",
]

#: Tests left out, by marker, and why.
EXCLUDED_MARKERS = {
    "dev_server": "starts Werkzeug's dev server on one of Werkzeug's own apps (tests/live_apps) in a "
    "subprocess, where the patch does not reach, through fixtures of Werkzeug's conftest",
}

#: Tests left out, by node id, and why (a behaviour microweb deliberately differs in). None today.
EXCLUDED: dict[str, str] = {}

#: Werkzeug's class -> microweb's, for every binding of it.
REPLACED: dict[type, type] = {
    werkzeug.wrappers.request.Request: microweb.Request,
    werkzeug.wrappers.response.Response: microweb.Response,
}
VERSION = importlib.metadata.version("werkzeug")


def _patch() -> list[str]:
    """Point every binding of Werkzeug's Request and Response at microweb's; the names patched."""
    for info in pkgutil.walk_packages(werkzeug.__path__, "werkzeug."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional dependency (watchdog, cryptography): nothing to patch there
            continue
    patched = []
    for name, module in list(sys.modules.items()):
        if name == "werkzeug" or name.startswith("werkzeug."):
            patched += _replace_in(name, module)
            patched += [
                f"{name}.{p}"
                for c in list(vars(module).values())
                if _defined_in(c, name)
                for p in _replace_in(c.__name__, c)
            ]
    return patched


def _defined_in(value: object, module: str) -> bool:
    return isinstance(value, type) and value.__module__ == module and value not in REPLACED


def _replace_in(name: str, namespace: Any) -> list[str]:
    patched = []
    for attr, value in list(vars(namespace).items()):
        if isinstance(value, type) and value in REPLACED:
            setattr(namespace, attr, REPLACED[value])
            patched.append(f"{name}.{attr}")
    return patched


PATCHED = _patch()


def pytest_report_header() -> list[str]:
    return [f"microweb's Request and Response replace Werkzeug {VERSION}'s: {', '.join(PATCHED)}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the excluded tests; an exclusion that matches no test is an error (a stale list)."""
    kept, dropped = [], []
    for item in items:
        excluded = item.nodeid in EXCLUDED or any(item.get_closest_marker(m) for m in EXCLUDED_MARKERS)
        (dropped if excluded else kept).append(item)
    stale = set(EXCLUDED) - {item.nodeid for item in dropped}
    if stale:
        raise pytest.UsageError(f"excluded tests not found (remove them from EXCLUDED): {sorted(stale)}")
    for module in {item.module for item in items if isinstance(item, pytest.Function) and item.module}:
        for original in REPLACED:
            if getattr(module, original.__name__, None) is original:
                raise pytest.UsageError(f"{module.__name__} imported Werkzeug's {original.__name__} before the patch")
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept
    config.stash[_EXCLUDED_COUNT] = len(dropped)


_EXCLUDED_COUNT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    passed = len(terminalreporter.stats.get("passed", ()))
    excluded = config.stash.get(_EXCLUDED_COUNT, 0)
    terminalreporter.write_line(
        f"microweb's Request and Response under Werkzeug {VERSION}'s tests: {passed} passed, {excluded} excluded"
    )
    for marker, reason in EXCLUDED_MARKERS.items():
        terminalreporter.write_line(f"  excluded: @pytest.mark.{marker}: {reason}")
    for nodeid, reason in EXCLUDED.items():
        terminalreporter.write_line(f"  excluded: {nodeid}: {reason}")
