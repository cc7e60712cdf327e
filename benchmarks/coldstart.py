"""Part 3: cold start, what CGI pays on every request, and what ``import microweb`` costs.

Each case is a whole Python process that imports its framework, builds a
one-route app and answers one CGI request through ``wsgiref.handlers.CGIHandler``
(the same gateway for all, so only the framework differs). The floor imports
only ``werkzeug.routing`` and ``werkzeug.wrappers`` and answers by hand.
Runs are interleaved across cases so the machine's noise hits them alike.
"""

from __future__ import annotations

import compileall
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

_SERVE = "import sys; from wsgiref.handlers import CGIHandler; CGIHandler().run(app)"
CASES: dict[str, str] = {
    "python_only": "pass",
    "raw": "def app(env, sr):\n sr('200 OK', [('Content-Type', 'text/plain')])\n return [b'Hello, World!']\n",
    "werkzeug_floor": (
        "from werkzeug.routing import Map, Rule\nfrom werkzeug.wrappers import Request, Response\n"
        "url_map = Map([Rule('/', endpoint='hello')])\n"
        "def app(env, sr):\n req = Request(env)\n endpoint, args = url_map.bind_to_environ(req.environ).match()\n"
        " return Response('Hello, World!')(env, sr)\n"
    ),
    "microweb": "from microweb import App\napp = App()\napp.add_route('/', lambda: 'Hello, World!', endpoint='hi')\n",
    "bottle": "import bottle\napp = bottle.Bottle()\napp.route('/', callback=lambda: 'Hello, World!')\n",
    "flask": "from flask import Flask\napp = Flask(__name__)\napp.add_url_rule('/', 'hi', lambda: 'Hello, World!')\n",
}
CGI_ENV = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "localhost",
    "REMOTE_ADDR": "127.0.0.1",
}
#: Modules a micro-framework should import only when used.
HEAVY = [
    "jinja2",
    "mako",
    "itsdangerous",
    "sqlalchemy",
    "flup",
    "http.server",
    "socketserver",
    "wsgiref.simple_server",
    "werkzeug.serving",
    "werkzeug.test",
    "werkzeug.debug",
    "argparse",
    "click",
    "email.parser",
    "ssl",
    "multiprocessing",
    "asyncio",
    "decimal",
    "uuid",
    "hmac",
    "hashlib",
    "logging",
    "traceback",
]


def _env() -> dict[str, str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Byte-compiled first, as pip leaves an installed package (the peers' are, in site-packages):
    # the timed processes write no caches, and a stale one would be compiled again on every start.
    compileall.compile_dir(os.path.join(root, "microweb"), quiet=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(CGI_ENV, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")
    return env


def _once(code: str, env: dict[str, str]) -> float:
    script = code if code == "pass" else code + _SERVE
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or (code != "pass" and b"Hello, World!" not in done.stdout):
        raise RuntimeError(f"cold-start case failed: {done.stderr.decode()[-300:]}")
    return elapsed * 1000


def _heavy(imports: str, env: dict[str, str]) -> list[str]:
    code = f"import sys, {imports}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=60, text=True
    ).stdout.split()


def importtime(env: dict[str, str]) -> dict[str, Any]:
    """``-X importtime`` of ``import microweb``: its total, werkzeug's, the slowest modules, heavy ones loaded."""
    code = "import microweb"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, timeout=60, text=True
    )
    cumulative: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            cumulative[match.group(4)] = int(match.group(2)) / 1000
    below = {m: ms for m, ms in cumulative.items() if m != "microweb"}
    return {
        "microweb_ms": cumulative.get("microweb", 0.0),
        "werkzeug_ms": sum(ms for m, ms in cumulative.items() if m == "werkzeug"),
        "top": sorted(below.items(), key=lambda item: -item[1])[:10],
        "heavy_loaded": _heavy("microweb", env),
        # `import werkzeug.routing` runs werkzeug/__init__.py, which imports werkzeug.serving and .test itself.
        "heavy_in_floor": _heavy("werkzeug.routing, werkzeug.wrappers", env),
    }


def run(quick: bool = False, names: list[str] | None = None, log: Any = print) -> dict[str, Any]:
    """Time every case ``runs`` times, interleaved; the results as JSON-ready data."""
    started = time.perf_counter()
    env = _env()
    runs = 5 if quick else 20
    cases = dict(CASES)
    missing = {}
    for name in ("bottle", "flask"):
        try:
            _once(cases[name], env)
        except RuntimeError as exc:
            missing[name] = str(exc)[-120:]
            del cases[name]
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, code in cases.items():
            times[name].append(_once(code, env))
    ms = {name: {"best": min(t), "median": statistics.median(t)} for name, t in times.items()}
    log("  " + "  ".join(f"{k} {v['best']:.1f}" for k, v in ms.items()))
    imports = min((importtime(env) for _ in range(3)), key=lambda r: r["microweb_ms"])
    return {
        "runs": runs,
        "ms": ms,
        "importtime": imports,
        "missing": missing,
        "seconds": round(time.perf_counter() - started, 1),
    }
