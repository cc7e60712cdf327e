"""Part 4: end to end, ``wrk`` against gunicorn and against Granian serving each framework on 127.0.0.1.

Under gunicorn, one sync worker (its default worker class) per framework; under
Granian (a server written in Rust), one worker process with its default threads,
for raw WSGI, microweb, Falcon and Flask. One ``wrk`` thread with a few
connections, each view for a bounded number of seconds. Requests per second
count only as a ratio to the raw WSGI app under the same server in the same run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

VIEWS = {"hello": "/", "param_json": "/users/42"}
#: The frameworks served under Granian: the floor, microweb and its two closest peers.
GRANIAN_FRAMEWORKS = ["raw", "microweb", "falcon", "flask"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _wrk(url: str, duration: int) -> float:
    done = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{duration}s", "--timeout", "2s", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if not match or "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk failed on {url}: {done.stdout[-200:]} {done.stderr[-200:]}")
    return float(match.group(1))


def _command(server: str, port: int) -> list[str]:
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "benchmarks.serve:app",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "gunicorn", "--workers", "1",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "benchmarks.serve:app",
    ]  # fmt: skip


def _serve(name: str, duration: int, server: str = "gunicorn") -> dict[str, float]:
    """Start ``server`` for framework ``name``, run wrk on each view, stop the server."""
    port = _free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, BENCH_FRAMEWORK=name, PYTHONPATH=root, PYTHONWARNINGS="ignore")
    command = _command(server, port)
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not _wait_listening(port, proc):
            raise RuntimeError(f"{server} did not start: {proc.stderr.read(300) if proc.stderr else b''!r}")
        for path in VIEWS.values():  # warm-up: Bottle and Falcon compile 1,000 routes on the first request
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as answer:
                answer.read()
        return {view: _wrk(f"http://127.0.0.1:{port}{path}", duration) for view, path in VIEWS.items()}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rounds(
    server: str, names: list[str], duration: int, rounds: int, log: Any
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Every framework in ``names`` under ``server``, best of ``rounds``: (req/s by framework and view, missing)."""
    from . import apps as frameworks

    rps: dict[str, dict[str, float]] = {}
    missing: dict[str, str] = {}
    # Rounds over all frameworks, best round kept: a noise burst then spoils one round, not one framework.
    for _ in range(rounds):
        for name in names:
            if name in missing:
                continue
            try:
                frameworks.module(name)
                got = _serve(name, duration, server)
            except (ImportError, RuntimeError) as exc:
                missing[name] = str(exc)[:160]
                continue
            best = rps.setdefault(name, {})
            for view, value in got.items():
                best[view] = max(best.get(view, 0.0), value)
            log(f"  {server} {name}: " + "  ".join(f"{v} {r:,.0f}/s" for v, r in got.items()))
    return rps, missing


def run(quick: bool = False, names: list[str] | None = None, log: Any = print) -> dict[str, Any]:
    """Every framework under gunicorn, and the Granian ones under Granian; the results as JSON-ready data."""
    from . import apps as frameworks

    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    started = time.perf_counter()
    duration, rounds = (1, 1) if quick else (3, 2)
    chosen = names or list(frameworks.FRAMEWORKS)
    rps, missing = _rounds("gunicorn", chosen, duration, rounds, log)
    granian_names = [name for name in chosen if name in GRANIAN_FRAMEWORKS]
    granian_rps, granian_missing = _rounds("granian", granian_names, duration, rounds, log)
    return {
        "server": "1 sync worker",
        "duration": duration,
        "rounds": rounds,
        "views": list(VIEWS),
        "rps": rps,
        "missing": missing,
        "granian": {"server": "1 worker, its default threads", "rps": granian_rps, "missing": granian_missing},
        "seconds": round(time.perf_counter() - started, 1),
    }
