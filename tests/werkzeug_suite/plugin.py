"""Copied in as the ``conftest.py`` of Werkzeug's own tests by ``run.py``: their ``Request`` is microweb's.

Every name a Werkzeug module binds to its ``Request`` class (``werkzeug.Request``,
``werkzeug.wrappers.Request``, ``werkzeug.test.Request``, ``EnvironBuilder.request_class``,
...) is pointed at :class:`microweb.Request` before any test module is imported, so
``from werkzeug.wrappers import Request`` and ``Request.from_values`` give microweb's.

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

import microweb

#: Werkzeug's test modules that exercise ``Request`` (the others never make one).
MODULES = [
    "tests/test_wrappers.py",
    "tests/test_formparser.py",
    "tests/test_test.py",
    "tests/test_utils.py",
    "tests/test_internal.py",
    "tests/test_debug.py",
    "tests/middleware/test_proxy_fix.py",
]

#: Tests left out, by marker, and why.
EXCLUDED_MARKERS = {
    "dev_server": "starts Werkzeug's dev server on one of Werkzeug's own apps (tests/live_apps) in a "
    "subprocess, where the patch does not reach, through fixtures of Werkzeug's conftest",
}

#: Tests left out, by node id, and why (a behaviour microweb deliberately differs in). None today.
EXCLUDED: dict[str, str] = {}

ORIGINAL = werkzeug.wrappers.request.Request
VERSION = importlib.metadata.version("werkzeug")


def _patch() -> list[str]:
    """Point every binding of Werkzeug's Request at microweb's; the names patched."""
    for info in pkgutil.walk_packages(werkzeug.__path__, "werkzeug."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional dependency (watchdog, cryptography): nothing to patch there
            continue
    patched = []
    for name, module in list(sys.modules.items()):
        if name != "werkzeug" and not name.startswith("werkzeug."):
            continue
        for attr, value in list(vars(module).items()):
            if value is ORIGINAL:
                setattr(module, attr, microweb.Request)
                patched.append(f"{name}.{attr}")
            elif isinstance(value, type) and value.__module__ == name:
                for class_attr, class_value in list(vars(value).items()):
                    if class_value is ORIGINAL:
                        setattr(value, class_attr, microweb.Request)
                        patched.append(f"{name}.{attr}.{class_attr}")
    return patched


PATCHED = _patch()


def pytest_report_header() -> list[str]:
    return [f"microweb's Request replaces Werkzeug {VERSION}'s: {', '.join(PATCHED)}"]


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
        found: Any = getattr(module, "Request", microweb.Request)
        if found is ORIGINAL:
            raise pytest.UsageError(f"{module.__name__} imported Werkzeug's Request before the patch")
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept
    config.stash[_EXCLUDED_COUNT] = len(dropped)


_EXCLUDED_COUNT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    passed = len(terminalreporter.stats.get("passed", ()))
    excluded = config.stash.get(_EXCLUDED_COUNT, 0)
    terminalreporter.write_line(
        f"microweb's Request under Werkzeug {VERSION}'s tests: {passed} passed, {excluded} excluded"
    )
    for marker, reason in EXCLUDED_MARKERS.items():
        terminalreporter.write_line(f"  excluded: @pytest.mark.{marker}: {reason}")
    for nodeid, reason in EXCLUDED.items():
        terminalreporter.write_line(f"  excluded: {nodeid}: {reason}")
