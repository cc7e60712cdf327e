"""Part 1: per-request overhead of each framework on every scenario, in one process.

First every framework answers every scenario once and the reply is checked
against the scenario's expected status and (normalised) body; a framework
that answers wrongly is not timed on that scenario. Then the scenarios are
timed, frameworks round-robin, in microseconds per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from . import apps as frameworks
from . import instructions as icount
from .scenarios import SCENARIOS, Scenario
from .timing import best_of, request_runner
from .wsgi import WSGIApp, call, make_environ, session_cookie


@dataclass(frozen=True)
class Prepared:
    """One scenario ready to run on one framework's app."""

    app: WSGIApp
    environ: dict[str, Any]
    body: bytes


def load(names: list[str]) -> tuple[dict[str, dict[str, WSGIApp]], dict[str, str]]:
    """The apps of each framework that imports, and why the others are missing."""
    loaded: dict[str, dict[str, WSGIApp]] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            loaded[name] = frameworks.build(name)
        except ImportError as exc:
            missing[name] = f"not installed ({exc.name or exc})"
    return loaded, missing


def prepare(apps: dict[str, WSGIApp], scenario: Scenario) -> Prepared | None:
    """The app and environ for ``scenario``; None if the framework has no app for it."""
    app = apps.get(scenario.variant)
    if app is None:
        return None
    headers = list(scenario.headers)
    if scenario.session:
        headers.append(("Cookie", session_cookie(app)))
    environ = make_environ(
        scenario.method, scenario.path, scenario.query, scenario.body, scenario.content_type, headers
    )
    return Prepared(app, environ, scenario.body)


def problem(prepared: Prepared, scenario: Scenario) -> str | None:
    """What is wrong with the app's answer to ``scenario``, or None when it is the expected one."""
    try:
        reply = call(prepared.app, prepared.environ, prepared.body)
    except Exception as exc:  # a broken app is reported in the table, not a crashed run
        return f"raised {type(exc).__name__}: {exc}"
    if reply.status != scenario.status:
        return f"status {reply.status}, expected {scenario.status}"
    got = scenario.normalise(reply)
    if got != scenario.expected:
        return f"body {str(got)[:80]!r}, expected {str(scenario.expected)[:80]!r}"
    return None


def check(
    loaded: dict[str, dict[str, WSGIApp]], scenarios: list[Scenario]
) -> tuple[dict[str, dict[str, Prepared]], dict[str, dict[str, str]]]:
    """Every framework's answer to every scenario: the ones to time, and the failures."""
    ready: dict[str, dict[str, Prepared]] = {name: {} for name in loaded}
    failures: dict[str, dict[str, str]] = {name: {} for name in loaded}
    for name, apps in loaded.items():
        for scenario in scenarios:
            if not scenario.served_by(name):
                continue
            try:
                prepared = prepare(apps, scenario)
            except Exception as exc:  # e.g. a /login that sets no cookie
                failures[name][scenario.name] = f"setup failed: {exc}"
                continue
            if prepared is None:
                failures[name][scenario.name] = f"no {scenario.variant} app"
                continue
            wrong = problem(prepared, scenario)
            if wrong is None:
                ready[name][scenario.name] = prepared
            else:
                failures[name][scenario.name] = wrong
    return ready, failures


def run(
    quick: bool = False, names: list[str] | None = None, log: Any = print, instructions: int | None = None
) -> dict[str, Any]:
    """Check, then time every scenario on every framework; the results as JSON-ready data.

    With ``instructions`` (requests per scenario), each framework also runs
    every scenario under callgrind, and the counts go beside the times.
    """
    started = time.perf_counter()
    loaded, missing = load(names or list(frameworks.FRAMEWORKS))
    ready, failures = check(loaded, SCENARIOS)
    for name, wrong in failures.items():
        for scenario_name, why in wrong.items():
            log(f"  ! {name} {scenario_name}: {why}")
    repeat, target = (3, 0.005) if quick else (7, 0.03)
    timings: dict[str, dict[str, float]] = {name: {} for name in loaded}
    for scenario in SCENARIOS:
        runners = {
            name: request_runner(p.app, p.environ, p.body)
            for name in loaded
            if (p := ready[name].get(scenario.name)) is not None
        }
        for name, us in best_of(runners, repeat, target).items():
            timings[name][scenario.name] = us
        log("  " + scenario.name.ljust(20) + "  ".join(f"{n} {timings[n].get(scenario.name, 0):.1f}" for n in runners))
    counted = None
    if instructions:
        log(f"  instructions per request under callgrind ({instructions} requests per scenario)")
        counted = icount.run(list(loaded), [s.name for s in SCENARIOS], instructions, log=log)
    return {
        "frameworks": list(loaded),
        "missing": missing,
        "scenarios": [{"name": s.name, "description": s.description, "compare": s.compare} for s in SCENARIOS],
        "us": timings,
        "failures": failures,
        **({"instructions": counted} if counted else {}),
        "seconds": round(time.perf_counter() - started, 1),
    }
