"""Timing WSGI calls in process, the way ``../shared/bench/peers.py`` does.

Every call gets a fresh copy of the environ and a fresh ``wsgi.input`` and
drains the body, so nothing is cached between requests that a server would
not cache either. Frameworks are timed round-robin (one repeat of each, then
the next repeat) so a burst of noise on the shared machine hits all of them
alike; the best repeat counts, as with ``timeit``.
"""

from __future__ import annotations

import io
import timeit
from collections.abc import Callable
from typing import Any

from .wsgi import WSGIApp


def request_runner(app: WSGIApp, environ: dict[str, Any], body: bytes = b"") -> Callable[[], None]:
    """A no-argument function that makes one whole request to ``app``."""
    bytes_io = io.BytesIO  # a local name: the loop below is what gets timed

    def write(data: bytes) -> None:
        pass

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
        return write

    def one() -> None:
        env = environ.copy()
        env["wsgi.input"] = bytes_io(body)
        iterable = app(env, start_response)
        for _ in iterable:
            pass
        close = getattr(iterable, "close", None)
        if close is not None:
            close()

    return one


def calibrate(func: Callable[[], None], target: float) -> int:
    """How many calls of ``func`` take about ``target`` seconds (at least 1)."""
    number = 1
    while True:
        elapsed = timeit.timeit(func, number=number)
        if elapsed >= target or number >= 1_000_000:
            break
        # Grow towards the target, at most 10x at a time: the first calls may be slow (imports, caches).
        number = max(number + 1, min(number * 10, int(number * target / max(elapsed, 1e-9) * 1.1)))
    return max(1, int(number * target / max(elapsed, 1e-9)))


def best_of(funcs: dict[str, Callable[[], None]], repeat: int, target: float) -> dict[str, float]:
    """Microseconds per call of each function: the best of ``repeat`` round-robin repeats."""
    numbers = {name: calibrate(func, target) for name, func in funcs.items()}
    best = {name: float("inf") for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            best[name] = min(best[name], timeit.timeit(func, number=numbers[name]) / numbers[name])
    return {name: seconds * 1e6 for name, seconds in best.items()}
