"""Part 2: route-table scaling, the per-request time of the first and the last of N routes.

Each app has N static routes ``/s{i}`` and N dynamic ones ``/d{i}/<int:x>``;
the whole request is timed (the same harness as part 1), so what grows with
N is the framework's matching. The app's registration time is reported too,
and the time of its first request (the last dynamic route), where lazy routers
build their tables: a server's worker pays both before it answers, within its
timeout. Werkzeug's own ``Map`` (``add`` of the same rules, then one ``match``)
is the floor microweb's registration and first request stand on.
"""

from __future__ import annotations

import time
from typing import Any

from werkzeug.routing import Map, Rule

from . import apps as frameworks
from .timing import best_of, request_runner
from .wsgi import WSGIApp, call, make_environ

NAMES = ["microweb", "falcon", "bottle", "flask", "pyramid"]
SIZES = [10, 100, 1_000, 10_000]
QUICK_SIZES = [10, 100, 1_000]
#: Largest N per framework: Falcon's, Bottle's and Pyramid's registration grow quadratically here
#: (N=3,000 takes 10-40 s to build, 8-15x N=1,000), so 10,000 would take many minutes; they stop at 1,000.
MAX_SIZE = {"falcon": 1_000, "bottle": 1_000, "pyramid": 1_000}
#: Issue 16's targets at 10,000 routes: the first request within a second, registration near Werkzeug's Map.add.
FIRST_REQUEST_LIMIT_S = 1.0
REGISTRATION_LIMIT = 1.3


def targets(n: int) -> dict[str, tuple[str, bytes]]:
    """Which paths to ask for, and the body each must answer."""
    return {
        "static_first": ("/s0", b"Hello, World!"),
        "static_last": (f"/s{n - 1}", b"Hello, World!"),
        "dynamic_first": ("/d0/7", b"7"),
        "dynamic_last": (f"/d{n - 1}/7", b"7"),
    }


def werkzeug_map(n: int) -> tuple[float, float]:
    """Seconds to ``add`` the same 2N rules to Werkzeug's ``Map``, and to ``match`` the last dynamic one."""
    started = time.perf_counter()
    url_map = Map()
    for i in range(n):
        url_map.add(Rule(f"/s{i}", endpoint=f"s{i}"))
        url_map.add(Rule(f"/d{i}/<int:x>", endpoint=f"d{i}"))
    built = time.perf_counter()
    url_map.bind("localhost").match(targets(n)["dynamic_last"][0])
    return built - started, time.perf_counter() - built


def first_request(app: WSGIApp, n: int) -> float:
    """Seconds the app takes to answer its first request (the last dynamic route)."""
    started = time.perf_counter()
    call(app, make_environ("GET", targets(n)["dynamic_last"][0]))
    return time.perf_counter() - started


def _build(names: list[str], n: int) -> tuple[dict[str, WSGIApp], dict[str, tuple[float, float]], dict[str, str]]:
    """The apps of N routes; each one's registration and first-request seconds; the missing frameworks."""
    apps: dict[str, WSGIApp] = {}
    seconds: dict[str, tuple[float, float]] = {}
    missing: dict[str, str] = {}
    for name in names:
        if n > MAX_SIZE.get(name, n):
            continue
        try:
            started = time.perf_counter()
            apps[name] = frameworks.module(name).build_routes(n)
            built = time.perf_counter() - started
        except ImportError as exc:
            missing[name] = f"not installed ({exc.name or exc})"
            continue
        seconds[name] = (built, first_request(apps[name], n))
    return apps, seconds, missing


def _checked(apps: dict[str, WSGIApp], path: str, expected: bytes, log: Any) -> dict[str, WSGIApp]:
    """The apps that answer ``path`` with 200 and ``expected`` (the first call also warms lazy routers)."""
    good = {}
    for name, app in apps.items():
        reply = call(app, make_environ("GET", path))
        if reply.status == 200 and reply.body == expected:
            good[name] = app
        else:
            log(f"  ! {name} {path}: {reply.status} {reply.body[:40]!r}")
    return good


def run(quick: bool = False, names: list[str] | None = None, log: Any = print) -> dict[str, Any]:
    """Time first and last routes for every N; the results as JSON-ready data.

    All apps are built first, then each route kind is timed round-robin over
    every (framework, N) pair, so the N=10 figure the ratios divide by is
    measured alongside the N=10,000 one.
    """
    started = time.perf_counter()
    names = [n for n in (names or NAMES) if n in NAMES]
    sizes = QUICK_SIZES if quick else SIZES
    repeat, target = (3, 0.005) if quick else (5, 0.02)
    us: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    build_seconds: dict[str, dict[str, float]] = {name: {} for name in [*names, "werkzeug_map"]}
    first_seconds: dict[str, dict[str, float]] = {name: {} for name in [*names, "werkzeug_map"]}
    missing: dict[str, str] = {}
    built: dict[int, dict[str, WSGIApp]] = {}
    for n in sizes:
        built[n], seconds, missing_now = _build(names, n)
        seconds["werkzeug_map"] = werkzeug_map(n)
        missing.update(missing_now)
        for name, (build_s, first_s) in seconds.items():
            build_seconds[name][str(n)], first_seconds[name][str(n)] = build_s, first_s
        log(
            f"  N={n:,}: registration + first request: "
            + "  ".join(f"{k} {b:.3f}+{f:.3f} s" for k, (b, f) in seconds.items())
        )
    for what in ("static_first", "static_last", "dynamic_first", "dynamic_last"):
        runners = {}
        for n, apps in built.items():
            path, expected = targets(n)[what]
            for name, app in _checked(apps, path, expected, log).items():
                runners[f"{name} {n}"] = request_runner(app, make_environ("GET", path))
        for key, value in best_of(runners, repeat, target).items():
            name, n_text = key.split()
            us[name].setdefault(what, {})[n_text] = value
        log(f"  {what}: " + "  ".join(f"{k} {v:.1f}" for k, v in sorted(us.get("microweb", {}).get(what, {}).items())))
    return {
        "frameworks": [name for name in names if name not in missing],
        "missing": missing,
        "sizes": sizes,
        "us": us,
        "build_seconds": build_seconds,
        "first_request_seconds": first_seconds,
        "max_size": MAX_SIZE,
        "seconds": round(time.perf_counter() - started, 1),
    }
