"""``python -m benchmarks [part ...] [--quick] [--instructions]``: run the benchmark parts and write the report.

Parts: requests, routing, coldstart, e2e, memory, or all (the default).
``--instructions`` also counts each request's instructions under callgrind in
the requests part (``--instructions-requests N`` per scenario), the figures
that stay put on a shared machine.
Results merge into ``results.json`` in the output folder (by default
``benchmarks/results``, or ``benchmarks/results/quick`` with ``--quick`` so a
smoke run never overwrites the committed figures), then ``results.md`` and
``chart.png`` are written from all the parts stored there.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from . import instructions as icount
from . import report

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _parts() -> dict[str, Callable[..., dict[str, Any]]]:
    # Imported on demand, so one part's missing tool does not stop the others.
    from . import coldstart, e2e, memory, per_request, routing

    return {
        "requests": per_request.run,
        "routing": routing.run,
        "coldstart": coldstart.run,
        "memory": memory.run,
        "e2e": e2e.run,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the parts asked for; 0 when every part ran."""
    parts = _parts()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"one or more of {', '.join(parts)}, all (default)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run with fewer repeats")
    parser.add_argument("--out", help="output folder (default benchmarks/results, or .../quick with --quick)")
    parser.add_argument("--frameworks", nargs="+", help="only these frameworks (raw is the floor: keep it)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="requests part: also count instructions per request under valgrind's callgrind",
    )
    parser.add_argument(
        "--instructions-requests",
        type=int,
        metavar="N",
        help=f"requests per scenario under callgrind (default {icount.REQUESTS}, {icount.QUICK_REQUESTS} with --quick)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.parts) - {*parts, "all"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    chosen = list(parts) if not args.parts or "all" in args.parts else args.parts
    if args.instructions_requests is not None and args.instructions_requests < 1:
        parser.error("--instructions-requests must be at least 1")
    if args.instructions:
        if "requests" not in chosen:
            parser.error("--instructions counts the requests part: add requests to the parts")
        try:
            icount.valgrind()
        except icount.ValgrindMissing as exc:
            parser.exit(2, f"python -m benchmarks: {exc}\n")
        n = args.instructions_requests or (icount.QUICK_REQUESTS if args.quick else icount.REQUESTS)
        parts["requests"] = functools.partial(parts["requests"], instructions=n)
    out = args.out or (os.path.join(RESULTS, "quick") if args.quick else RESULTS)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "results.json")
    results: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            results = json.load(fh)
    failed = []
    for name in chosen:
        print(f"== {name}", flush=True)
        try:
            results[name] = parts[name](quick=args.quick, names=args.frameworks)
        except Exception as exc:  # one broken part must not lose the others' results
            print(f"  ! {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        results[name]["machine"] = machine()
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    markdown = report.write(results, out)
    print(markdown)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
