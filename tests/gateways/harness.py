"""A small harness for the gateway tests: free ports, configs from templates, server processes.

Every server runs in its own session (process group) and is stopped by its PID:
SIGTERM, a bounded wait, SIGKILL, then any descendant it left behind is killed
by PID too, after checking that the PID still belongs to the same process.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

CONF = Path(__file__).parent / "conf"
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 20.0


def missing(reason: str) -> NoReturn:
    """A server or package a test needs is not here: a failure in CI (``CI=true``), else a skip.

    Also at a test module's top level, where it skips (or fails) the whole module.
    """
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: every test must run)")
    pytest.skip(reason, allow_module_level=True)


#: The module a test imports -> (its distribution, the setup.cfg extra that installs it); test_packaging checks it.
EXTRAS = {
    "gunicorn": ("gunicorn", "test"),
    "waitress": ("waitress", "test"),
    "jinja2": ("Jinja2", "test"),
    "mako": ("Mako", "test"),
    "trove_classifiers": ("trove-classifiers", "test"),
    "flup": ("flup", "test-servers"),
    "granian": ("granian", "test-servers"),
    "watchfiles": ("watchfiles", "test-servers"),
    "selenium": ("selenium", "test-browser"),
    "sqlalchemy": ("SQLAlchemy", "test-examples"),
    "ZODB": ("ZODB", "test-examples"),
    "psycopg": ("psycopg", "test-examples"),
    "atheris": ("atheris", "test-fuzz"),
    "build": ("build", "test-packaging"),
    "twine": ("twine", "test-packaging"),
    "sphinx": ("sphinx", "docs"),
    "myst_parser": ("myst-parser", "docs"),
    "furo": ("furo", "docs"),
}


def need_modules(*modules: str) -> None:
    """Each of ``modules`` can be imported, else :func:`missing` with the extra that installs it."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            missing(f"{module} is not installed: pip install -e '.[{EXTRAS[module][1]}]'")


def program(name: str) -> str:
    """The path of an installed program (also found in /usr/sbin, which may not be on PATH)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        missing(f"{name} is not installed (run .ci/install-servers)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The values the docs' deployment pages show in place of the tests' temp paths, free ports and secret key.
#: The key is a placeholder that microweb refuses, so a copied config cannot sign sessions.
DOCS_VALUES = {
    "G": "/srv/microweb",
    "PORT": "8080",
    "BACKEND_PORT": "9000",
    "APPDIR": "/srv/microweb/app",
    "VENV": "/srv/microweb/venv",
    "SITE_PACKAGES": "/srv/microweb/venv/lib/python3.11/site-packages",
    "PYTHON": "/srv/microweb/venv/bin/python",
    "SECRET_KEY": "change-me-to-the-output-of-secrets.token_hex-32",
}


def end(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not gone within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


SYSTEM_PYTHON = Path("/usr/bin/python3")  # the Python that Debian's mod_wsgi and mod_python embed
ROOT = Path(__file__).resolve().parents[2]


def runtime_requirements() -> list[str]:
    """microweb's install_requires, read from setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return [line.strip() for line in cfg["options"]["install_requires"].splitlines() if line.strip()]


def system_venv(name: str, requirements: Sequence[str]) -> Path:
    """A venv of Debian's /usr/bin/python3 with ``requirements``, readable by www-data, cached in /var/tmp."""
    if not SYSTEM_PYTHON.exists():
        missing(f"{SYSTEM_PYTHON} (the Python of Debian's Apache modules) is not installed")
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    key = hashlib.sha256("\n".join([version.stdout, *requirements]).encode()).hexdigest()[:12]
    venv = Path(f"/var/tmp/{name}-{key}")
    if (venv / "complete").exists():
        return venv
    building = Path(tempfile.mkdtemp(prefix=venv.name + ".", dir="/var/tmp"))
    made = subprocess.run([SYSTEM_PYTHON, "-m", "venv", building], capture_output=True, text=True)
    if made.returncode:
        missing(f"cannot make a venv of {SYSTEM_PYTHON} (apt-get install python3-venv): {made.stderr.strip()}")
    pip = [building / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
    subprocess.run(pip, check=True, timeout=300)
    building.chmod(0o755)
    (building / "complete").touch()
    with contextlib.suppress(OSError):  # another run may have finished first: keep either
        building.rename(venv)
    return venv if (venv / "complete").exists() else building


def render_text(template: str, conf: Path | None = None, **values: str) -> str:
    """``conf/template`` with every ``@@NAME@@`` replaced by ``values[NAME]`` (``conf``: this folder's)."""
    text = ((conf or CONF) / template).read_text()
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    assert "@@" not in text, f"{template}: a placeholder has no value"
    return text


def render(template: str, dest: Path, mode: int = 0o644, **values: str) -> Path:
    """Write ``conf/template`` to ``dest``, its placeholders filled in (see :func:`render_text`)."""
    text = render_text(template, **values)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    dest.chmod(mode)
    return dest


def nginx_conf(location: str, **values: str) -> str:
    """The whole nginx.conf: the shared skeleton with the gateway's ``location`` block in its server block."""
    block = render_text(location, **values).rstrip("\n")
    return render_text("nginx.conf", **values, LOCATION=block)


def apache_conf(gateway: str, **values: str) -> str:
    """The whole httpd.conf: the shared skeleton, then the gateway's own part."""
    return render_text("apache.conf", **values, GATEWAY=render_text(gateway, **values).rstrip("\n"))


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent PID, start time) of a live process, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return int(fields[1]), fields[19]


def descendants(pid: int) -> list[tuple[int, str]]:
    """The live descendants of ``pid`` as (PID, start time), so a reused PID is never hit."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                children.setdefault(info[0], []).append((int(entry), info[1]))
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


class ServerProcess:
    """One server process: started with a log file, awaited on its port or socket, stopped by PID."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.family: list[tuple[int, str]] = []

    def start(self, ready: int | Path, timeout: float = READY_TIMEOUT) -> ServerProcess:
        """Start, then wait (bounded) until ``ready`` (a port, or a unix socket path) accepts connections."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            if _accepts(ready):
                self.family = descendants(self.proc.pid)
                return self
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready on {ready} after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_TIMEOUT, SIGKILL; then kill the descendants still alive."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self.family = list({*self.family, *descendants(proc.pid)})
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
        for pid, started in self.family:
            info = _stat(pid)
            if info is not None and info[1] == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log (and why it failed, usually)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _accepts(ready: int | Path) -> bool:
    family = socket.AF_INET if isinstance(ready, int) else socket.AF_UNIX
    address: tuple[str, int] | str = ("127.0.0.1", ready) if isinstance(ready, int) else str(ready)
    with socket.socket(family) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def running(*servers: tuple[ServerProcess, int | Path]) -> Iterator[None]:
    """Start the servers in order (backend first), and stop all of them in reverse, whatever happens."""
    started: list[ServerProcess] = []
    try:
        for server, ready in servers:
            started.append(server)
            server.start(ready)
        yield
    finally:
        for server in reversed(started):
            server.stop()
