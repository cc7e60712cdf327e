"""Instructions per request under callgrind: the per-request figures, repeatable on a noisy machine.

Each framework runs in its own process under ``valgrind --tool=callgrind
--dump-after=getsid``: ``python -m benchmarks.instructions FRAMEWORK N WARMUP
SCENARIO,...`` builds the framework's apps, checks every answer, then for
each scenario makes WARMUP requests, calls ``os.getsid(0)``, makes N requests
and calls ``os.getsid(0)`` again. Callgrind writes its counters out and zeroes
them after each call of ``getsid`` (a libc function nothing else here calls),
so the second dump of a scenario holds its N requests and nothing else:
start-up, imports, checks and warm-ups fall into the other dumps.
Each request is the whole WSGI call of :func:`benchmarks.timing.request_runner`
(environ copy, ``wsgi.input``, body drained, ``close``), the same for every
framework: the raw floor pays it too.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: The libc function whose calls mark the phases (callgrind's --dump-after takes a C function's name).
MARKER = "getsid"
#: Requests measured per scenario, by default and with --quick.
REQUESTS, QUICK_REQUESTS = 100, 10
WARMUP = 20
#: valgrind processes at a time: the counts do not depend on load, but the machine is shared.
JOBS = 2


class ValgrindMissing(RuntimeError):
    """valgrind is not installed (the instruction mode needs it)."""


def valgrind() -> str:
    """The path of valgrind; ValgrindMissing with what to do when it is not installed."""
    path = shutil.which("valgrind")
    if path is None:
        raise ValgrindMissing(
            "valgrind is not installed: the instruction mode runs callgrind (apt-get install valgrind, "
            "or leave out --instructions)"
        )
    return path


def child(name: str, n: int, warmup: int, wanted: list[str]) -> dict[str, Any]:
    """In the process under callgrind: check, then run each good scenario between two markers."""
    from .per_request import check, load
    from .scenarios import BY_NAME
    from .timing import request_runner

    loaded, missing = load([name])
    if missing:
        return {"measured": [], "failures": {s: missing[name] for s in wanted}}
    ready, failures = check(loaded, [BY_NAME[s] for s in wanted])
    measured = [s for s in wanted if s in ready[name]]
    for scenario in measured:
        prepared = ready[name][scenario]
        run = request_runner(prepared.app, prepared.environ, prepared.body)
        for _ in range(warmup):
            run()
        os.getsid(0)
        for _ in range(n):
            run()
        os.getsid(0)
    return {"measured": measured, "failures": failures[name]}


def totals(folder: str) -> list[int]:
    """The instruction totals of callgrind's numbered dumps in ``folder``, in order."""
    numbered = [path for path in glob.glob(os.path.join(folder, "cg.out.*")) if path.rsplit(".", 1)[1].isdigit()]
    found = []
    for path in sorted(numbered, key=lambda p: int(p.rsplit(".", 1)[1])):
        with open(path, encoding="utf-8", errors="replace") as fh:
            found.append(next(int(line.split()[1]) for line in fh if line.startswith(("totals:", "summary:"))))
    return found


def per_request(dumps: list[int], measured: list[str], n: int) -> dict[str, int]:
    """Instructions per request of each measured scenario: the second of its two dumps, over ``n``."""
    if len(dumps) != 2 * len(measured):
        raise RuntimeError(
            f"callgrind wrote {len(dumps)} marker dumps for {len(measured)} scenarios, expected "
            f"{2 * len(measured)}: something else calls {MARKER}(); pick another MARKER"
        )
    return {scenario: round(dumps[2 * i + 1] / n) for i, scenario in enumerate(measured)}


def measure(name: str, scenarios: list[str], n: int, warmup: int = WARMUP) -> dict[str, Any]:
    """Run framework ``name``'s scenarios under callgrind: instructions per request, and the failures."""
    with tempfile.TemporaryDirectory(prefix="icount-") as folder:
        command = [
            valgrind(),
            "--tool=callgrind",
            f"--dump-after={MARKER}",
            f"--callgrind-out-file={folder}/cg.out",
            f"--log-file={folder}/valgrind.log",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            name,
            str(n),
            str(warmup),
            ",".join(scenarios),
        ]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)
        if done.returncode != 0:
            with open(f"{folder}/valgrind.log", encoding="utf-8", errors="replace") as fh:
                log = fh.read()[-2000:]
            raise RuntimeError(f"{name} under callgrind exited {done.returncode}: {done.stderr[-2000:]}{log}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        counts = per_request(totals(folder), report["measured"], n)
    return {"counts": counts, "failures": report["failures"]}


def run(
    frameworks: list[str], scenarios: list[str], n: int, warmup: int = WARMUP, log: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Instructions per request of every scenario on every framework (JOBS processes at a time)."""
    valgrind()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        futures = {name: pool.submit(measure, name, scenarios, n, warmup) for name in frameworks}
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        log(f"  {name}: " + "  ".join(f"{s} {c:,}" for s, c in result["counts"].items()))
    return {
        "requests": n,
        "warmup": warmup,
        "counts": {name: r["counts"] for name, r in results.items()},
        "failures": {name: r["failures"] for name, r in results.items() if r["failures"]},
        "tool": _version(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _version() -> str:
    done = subprocess.run([valgrind(), "--version"], capture_output=True, text=True, check=False)
    return f"{done.stdout.strip()} --tool=callgrind"


if __name__ == "__main__":
    framework, requests, warm, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
    print(json.dumps(child(framework, requests, warm, names)), flush=True)
