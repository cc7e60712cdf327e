"""Part 5: memory, a worker's RSS over many requests and the memory one request allocates.

Each framework runs in its own process (``python -m benchmarks.memory
FRAMEWORK REQUESTS``), so RSS is that worker's alone: warm up with every
scenario (a fifth of REQUESTS), note RSS, make REQUESTS more requests cycling through the
scenarios, note RSS again. Then tracemalloc measures the peak memory
allocated during one request of each scenario.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from .timing import request_runner

PEAK_SCENARIOS = ["hello", "param_json", "post_form", "session", "multipart", "stream_100"]


def rss_kib() -> int:
    """This process's resident set size in KiB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def worker(name: str, requests: int) -> dict[str, Any]:
    """In this process: RSS before and after ``requests`` requests, and tracemalloc peaks."""
    from .per_request import check, load
    from .scenarios import SCENARIOS

    loaded, _missing = load([name])
    ready, _failures = check(loaded, SCENARIOS)
    runners = {s: request_runner(p.app, p.environ, p.body) for s, p in ready[name].items()}
    cycle = list(runners.values())
    # Warm-up: lazy routers and the bounded caches of re, Werkzeug and the frameworks fill up first,
    # so that growth after it is what the requests leave behind.
    for i in range(max(requests // 5, 20 * len(cycle))):
        cycle[i % len(cycle)]()
    gc.collect()
    before = rss_kib()
    for i in range(requests):
        cycle[i % len(cycle)]()
    gc.collect()
    after = rss_kib()
    peaks = {}
    tracemalloc.start()
    for scenario in PEAK_SCENARIOS:
        if scenario in runners:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            runners[scenario]()
            peaks[scenario] = (tracemalloc.get_traced_memory()[1] - base) / 1024
    tracemalloc.stop()
    return {"rss_before_kib": before, "rss_after_kib": after, "peak_kib": peaks}


def run(quick: bool = False, names: list[str] | None = None, log: Any = print) -> dict[str, Any]:
    """One worker process per framework; the results as JSON-ready data."""
    from . import apps as frameworks

    started = time.perf_counter()
    requests = 10_000 if quick else 100_000
    workers: dict[str, Any] = {}
    missing: dict[str, str] = {}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in names or list(frameworks.FRAMEWORKS):
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "benchmarks.memory", name, str(requests)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            missing[name] = (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
            continue
        workers[name] = json.loads(done.stdout)
        w = workers[name]
        log(f"  {name}: RSS {w['rss_before_kib']} -> {w['rss_after_kib']} KiB")
    return {
        "requests": requests,
        "workers": workers,
        "missing": missing,
        "scenarios": PEAK_SCENARIOS,
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(worker(sys.argv[1], int(sys.argv[2]))))
