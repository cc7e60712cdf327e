"""The PNG chart: per-request time as a multiple of raw WSGI, and route-table scaling."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402


def draw(results: dict[str, Any], path: str) -> None:
    """Draw what ``results`` holds of parts 1 and 2 into ``path``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(20, 7), gridspec_kw={"width_ratios": [3, 1]})
    req = results.get("requests")
    if req:
        _per_request(left, req)
    routing = results.get("routing")
    if routing:
        _routing(right, routing)
    fig.suptitle("microweb benchmarks: ratios from one run on a shared 2-CPU machine")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _per_request(ax: Any, part: dict[str, Any]) -> None:
    # Instruction counts when the run has them: they do not move with the machine's load.
    counted = part.get("instructions", {}).get("counts")
    table = counted or part["us"]
    names = [n for n in part["frameworks"] if n != "raw" and n in table]
    scenarios = [s["name"] for s in part["scenarios"]]
    raw = table.get("raw", {})
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        ys = [table[name].get(s, 0) / raw[s] if raw.get(s) else 0 for s in scenarios]
        ax.bar([x + i * width for x in range(len(scenarios))], ys, width, label=name)
    ax.set_yscale("log")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(scenarios))], scenarios, rotation=40, ha="right")
    what = "instructions" if counted else "time"
    ax.set_ylabel(f"{what} per request ÷ raw WSGI (log scale, lower is better)")
    ax.set_title("Per request, in process" + (" (callgrind instruction counts)" if counted else ""))
    if names:
        ax.legend()


def _routing(ax: Any, part: dict[str, Any]) -> None:
    for name in part["frameworks"]:
        values = part["us"].get(name, {}).get("dynamic_last", {})
        sizes = sorted(int(n) for n in values)
        ax.plot(sizes, [values[str(n)] for n in sizes], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("routes N")
    ax.set_ylabel("µs per request")
    ax.set_title("Matching the last of N dynamic routes")
    if part["frameworks"]:
        ax.legend()
