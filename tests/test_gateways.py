"""One app, every gateway: each real server is started with its own config and the same checks run through it.

The app module the configs name (``tests/gateways/conf/gwapp.py``, as the docs show it) builds the
project (``tests/gateways/myproject.py``) with the settings each server's config passes it, and it
is served at ``/app`` everywhere. Each
gateway's servers start once (a module-scoped fixture) on free 127.0.0.1
ports and are stopped by PID when its checks are done, even if they failed.
Without a server: skipped, or failed when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from gateways.harness import (
    CONF,
    ServerProcess,
    apache_conf,
    free_port,
    missing,
    need_modules,
    nginx_conf,
    program,
    render,
    running,
    runtime_requirements,
    system_venv,
)
from gateways.myproject import SECRET, STREAM_CHUNKS, stream_line

import microweb

pytestmark = pytest.mark.slow

GATEWAY_DIR = Path(__file__).resolve().parent / "gateways"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
# The web servers get the environment an init system would give them, not the test run's: an
# activated venv's python3 first on PATH is what mod_python would embed (and crash on, as www-data).
SERVER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
#: The key every gateway's config passes to the app (a new one per run); the database is per gateway.
SECRET_KEY = secrets.token_hex(32)


@dataclass
class Gateway:
    """A running gateway: its public port and what proves the real server answered."""

    name: str
    port: int
    server_header: str  # the start of the response's Server header
    facts: dict[str, Any] = field(default_factory=dict)  # values the app must see in its environ
    argv0: str = ""  # the start of the serving process's command line
    log: Path | None = None  # the log of the microweb adapter that serves it, if one does
    startup: str = ""  # what that adapter's start-up line says

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Ctx:
    """What a gateway starter gets: its own directory, the app's directory, and lazy fixtures."""

    g: Path
    appdir: Path
    request: pytest.FixtureRequest

    def log(self, name: str) -> Path:
        return self.g / "logs" / f"{name}.log"

    def sys_venv(self) -> Path:
        return Path(self.request.getfixturevalue("sys_venv"))

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.g}/data/app.sqlite3"

    def settings(self) -> dict[str, str]:
        """The app's settings, as the environment of a server process the test starts itself."""
        return {"SECRET_KEY": SECRET_KEY, "DATABASE_URL": self.database_url}


# ---------------------------------------------------------------- session-wide set-up


@pytest.fixture(scope="session")
def workroot() -> Iterator[Path]:
    """A temp dir that Apache's www-data can read (pytest's own temp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="microweb-gw-"))
    root.chmod(0o755)
    yield root
    if not os.environ.get("MICROWEB_KEEP_GATEWAY_DIRS"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def appdir(workroot: Path) -> Path:
    """The app and a copy of microweb, where every server user can read them."""
    app = workroot / "app"
    shutil.copytree(Path(microweb.__file__).parent, app / "microweb", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONF / "gwapp.py", app / "gwapp.py")
    shutil.copy(GATEWAY_DIR / "myproject.py", app / "myproject.py")
    for path in [app, *app.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return app


@pytest.fixture(scope="session")
def sys_venv(appdir: Path) -> Path:
    """A venv of /usr/bin/python3 with microweb's dependencies, cached across runs (the project is not in it)."""
    venv = system_venv("microweb-gw-venv", runtime_requirements())
    # Apache's children run as www-data: prove they can import the app with this Python.
    probe = subprocess.run(
        [program("runuser"), "-u", "www-data", "--", venv / "bin/python", "-c", "import myproject, werkzeug"],
        env={"PYTHONPATH": str(appdir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, f"www-data cannot import the app with {venv}: {probe.stderr}"
    return venv


# ---------------------------------------------------------------- how each server is started


def _python_server(ctx: Ctx, name: str, *args: str) -> ServerProcess:
    """``microweb run gwapp:app ARGS`` with this test run's Python."""
    argv = [sys.executable, "-m", "microweb", "run", "gwapp:app", *args]
    env = {**os.environ, "HOME": str(ctx.g), **ctx.settings()}  # gunicorn keeps a control socket under $HOME
    return ServerProcess(name, argv, ctx.log(name), env=env, cwd=ctx.appdir)


def _checked(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode:
        raise RuntimeError(f"{what} config test failed:\n{done.stdout}{done.stderr}")


def _nginx(ctx: Ctx, location: str, backend_port: int) -> tuple[ServerProcess, int]:
    nginx = program("nginx")
    port = free_port()
    for sub in ("run", "logs", "tmp"):
        (ctx.g / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(ctx.g / "tmp", "www-data", "www-data")  # nginx workers write request bodies here
    conf = ctx.g / "nginx.conf"
    conf.write_text(nginx_conf(location, BACKEND_PORT=str(backend_port), G=str(ctx.g), PORT=str(port)))
    argv = [nginx, "-c", str(conf), "-p", f"{ctx.g}/", "-e", str(ctx.g / "logs/error.log")]
    _checked([*argv, "-t"], "nginx")
    return ServerProcess("nginx", argv, ctx.log("nginx"), SERVER_ENV), port


def _lighttpd(ctx: Ctx, template: str) -> tuple[ServerProcess, int]:
    lighttpd = program("lighttpd")
    port = free_port()
    for sub in ("run", "logs", "docroot"):
        (ctx.g / sub).mkdir(parents=True, exist_ok=True)
    # Mode 0600: lighttpd reads its config as root, and the CGI configs hold the app's secret key.
    conf = render(template, ctx.g / "lighttpd.conf", 0o600, G=str(ctx.g), PORT=str(port), SECRET_KEY=SECRET_KEY)
    if 'server.username      = "www-data"' in conf.read_text():
        shutil.chown(ctx.g / "logs", "www-data", "www-data")  # lighttpd opens its logs after dropping to www-data
    _checked([lighttpd, "-tt", "-f", str(conf)], "lighttpd")
    return ServerProcess("lighttpd", [lighttpd, "-D", "-f", str(conf)], ctx.log("lighttpd"), SERVER_ENV), port


def _apache(
    ctx: Ctx, template: str, module: str, env: dict[str, str] | None = None, **values: str
) -> tuple[ServerProcess, int]:
    apache = Path("/usr/sbin/apache2")  # by full path: mod_wsgi's display-name rewrites argv[0] in place
    if not apache.exists():
        missing("apache2 is not installed (run .ci/install-servers)")
    if not (APACHE_MODULES / module).exists():
        missing(f"{APACHE_MODULES / module} is not installed (run .ci/install-servers)")
    port = free_port()
    ctx.g.chmod(0o755)
    for sub in ("run", "logs", "docroot"):
        (ctx.g / sub).mkdir(parents=True, exist_ok=True)
    conf = ctx.g / "httpd.conf"
    conf.write_text(apache_conf(template, G=str(ctx.g), PORT=str(port), SECRET_KEY=SECRET_KEY, **values))
    conf.chmod(0o600)  # Apache reads it as root; the CGI part holds the app's secret key
    _checked([str(apache), "-t", "-f", str(conf)], "apache2")
    argv = [str(apache), "-f", str(conf), "-DFOREGROUND"]
    return ServerProcess("apache2", argv, ctx.log("apache2"), {**SERVER_ENV, **(env or {})}), port


def _url(port: int, server: str = "") -> str:
    """What an HTTP adapter's start-up line says (the dev server names no server)."""
    return f"on http://127.0.0.1:{port}/app/" + (f" with {server}" if server else "")


@contextlib.contextmanager
def gw_wsgiref(ctx: Ctx) -> Iterator[Gateway]:
    port = free_port()
    with running((_python_server(ctx, "wsgiref", "--port", str(port), "--prefix", "/app"), port)):
        yield Gateway("wsgiref", port, "WSGIServer/", log=ctx.log("wsgiref"), startup=_url(port))


@contextlib.contextmanager
def gw_waitress(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("waitress")
    port = free_port()
    server = _python_server(ctx, "waitress", "--server", "waitress", "--port", str(port), "--prefix", "/app")
    with running((server, port)):
        yield Gateway("waitress", port, "waitress", log=ctx.log("waitress"), startup=_url(port, "waitress"))


@contextlib.contextmanager
def gw_gunicorn_sync(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("gunicorn")
    port = free_port()
    server = _python_server(ctx, "gunicorn", "--server", "gunicorn", "--port", str(port), "--prefix", "/app")
    with running((server, port)):
        yield Gateway(
            "gunicorn-sync",
            port,
            "gunicorn",
            {"multithread": False},
            log=ctx.log("gunicorn"),
            startup=_url(port, "gunicorn"),
        )


@contextlib.contextmanager
def gw_gunicorn_gthread(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("gunicorn")
    port = free_port()
    # The Python API, as the docs show it: gunicorn settings pass through app.run(), from the app's folder.
    script = render("serve-gunicorn.py.in", ctx.appdir / "serve.py", PORT=str(port))
    env = {**os.environ, "HOME": str(ctx.g), **ctx.settings()}  # a control socket made after all would land here
    server = ServerProcess("gunicorn", [sys.executable, str(script)], ctx.log("gunicorn"), env, ctx.appdir)
    with running((server, port)):
        yield Gateway(
            "gunicorn-gthread",
            port,
            "gunicorn",
            {"multithread": True},
            log=ctx.log("gunicorn"),
            startup=_url(port, "gunicorn"),
        )
    assert not (ctx.g / ".gunicorn").exists(), "control_socket_disable=True still made a control socket"


def _cgi_lighttpd(ctx: Ctx, name: str, conf: str) -> Iterator[Gateway]:
    python = ctx.sys_venv() / "bin/python"  # lighttpd runs it as www-data, who cannot read /root
    render("app-lighttpd.cgi", ctx.g / "cgi-bin/app.cgi", 0o755, PYTHON=str(python), APPDIR=str(ctx.appdir))
    server, port = _lighttpd(ctx, conf)
    with running((server, port)):
        yield Gateway(name, port, "lighttpd", {"gateway_interface": "CGI/1.1"})


@contextlib.contextmanager
def gw_cgi_lighttpd(ctx: Ctx) -> Iterator[Gateway]:
    yield from _cgi_lighttpd(ctx, "cgi-lighttpd", "lighttpd-cgi.conf")


@contextlib.contextmanager
def gw_cgi_lighttpd_rewrite(ctx: Ctx) -> Iterator[Gateway]:
    yield from _cgi_lighttpd(ctx, "cgi-lighttpd-rewrite", "lighttpd-cgi-rewrite.conf")


@contextlib.contextmanager
def gw_cgi_apache(ctx: Ctx) -> Iterator[Gateway]:
    venv = ctx.sys_venv()
    render("app-apache.cgi", ctx.g / "cgi-bin/app.cgi", 0o755, PYTHON=str(venv / "bin/python"), APPDIR=str(ctx.appdir))
    (ctx.g / "cgi-bin").chmod(0o755)
    server, port = _apache(ctx, "apache-cgi.conf", "mod_cgid.so")
    with running((server, port)):
        yield Gateway("cgi-apache", port, "Apache", {"gateway_interface": "CGI/1.1"})


@contextlib.contextmanager
def gw_fastcgi_nginx(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("flup")
    backend_port = free_port()
    backend = _python_server(ctx, "flup-fcgi", "--server", "fastcgi", "--port", str(backend_port))
    nginx, port = _nginx(ctx, "nginx-fastcgi.conf", backend_port)
    with running((backend, backend_port), (nginx, port)):
        startup = f"FastCGI on 127.0.0.1:{backend_port} to the web server in front with flup"
        yield Gateway("fastcgi-nginx", port, "nginx", log=ctx.log("flup-fcgi"), startup=startup)


@contextlib.contextmanager
def gw_fastcgi_lighttpd(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("flup")
    sock = ctx.g / "run/fcgi.sock"
    sock.parent.mkdir(parents=True, exist_ok=True)
    backend = _python_server(ctx, "flup-fcgi", "--server", "fastcgi", "--socket", str(sock))
    lighttpd, port = _lighttpd(ctx, "lighttpd-fastcgi.conf")
    with running((backend, sock), (lighttpd, port)):
        startup = f"FastCGI on unix socket {sock} to the web server in front with flup"
        yield Gateway("fastcgi-lighttpd", port, "lighttpd", log=ctx.log("flup-fcgi"), startup=startup)


@contextlib.contextmanager
def gw_scgi_nginx(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("flup")
    backend_port = free_port()
    backend = _python_server(ctx, "flup-scgi", "--server", "scgi", "--port", str(backend_port))
    nginx, port = _nginx(ctx, "nginx-scgi.conf", backend_port)
    with running((backend, backend_port), (nginx, port)):
        startup = f"SCGI on 127.0.0.1:{backend_port} to the web server in front with flup"
        yield Gateway("scgi-nginx", port, "nginx", log=ctx.log("flup-scgi"), startup=startup)


def _mod_wsgi(ctx: Ctx, template: str) -> tuple[ServerProcess, int]:
    venv = ctx.sys_venv()
    script = render("app.wsgi", ctx.g / "wsgi/app.wsgi", 0o640, G=str(ctx.g), SECRET_KEY=SECRET_KEY)
    shutil.chown(script, "root", "www-data")  # it holds the key: readable by root and Apache's www-data only
    (ctx.g / "wsgi").chmod(0o755)
    return _apache(ctx, template, "mod_wsgi.so", VENV=str(venv), APPDIR=str(ctx.appdir))


@contextlib.contextmanager
def gw_mod_wsgi_embedded(ctx: Ctx) -> Iterator[Gateway]:
    server, port = _mod_wsgi(ctx, "apache-mod-wsgi-embedded.conf")
    with running((server, port)):
        yield Gateway("mod_wsgi-embedded", port, "Apache", {"mod_wsgi_process_group": ""}, "/usr/sbin/apache2")


@contextlib.contextmanager
def gw_mod_wsgi_daemon(ctx: Ctx) -> Iterator[Gateway]:
    server, port = _mod_wsgi(ctx, "apache-mod-wsgi-daemon.conf")
    with running((server, port)):
        yield Gateway("mod_wsgi-daemon", port, "Apache", {"mod_wsgi_process_group": "microweb"}, "(wsgi:microweb)")


def _mod_python(ctx: Ctx) -> tuple[ServerProcess, int]:
    venv = ctx.sys_venv()
    site = next((venv / "lib").glob("python3*/site-packages"))
    # mod_python has no per-app environment: its interpreters get Apache's own, given at start.
    env = {"SECRET_KEY": SECRET_KEY, "DATABASE_URL": ctx.database_url}
    return _apache(ctx, "apache-mod-python.conf", "mod_python.so", env, APPDIR=str(ctx.appdir), SITE_PACKAGES=str(site))


@contextlib.contextmanager
def gw_mod_python(ctx: Ctx) -> Iterator[Gateway]:
    server, port = _mod_python(ctx)
    with running((server, port)):
        yield Gateway("mod_python", port, "Apache", {"mod_python": True}, "/usr/sbin/apache2")


@contextlib.contextmanager
def gw_mod_python_unwrapped(ctx: Ctx) -> Iterator[Gateway]:
    """mod_python's WSGI handler given the bare app, without ``for_mod_python``."""
    server, port = _mod_python(ctx)
    conf = ctx.g / "httpd.conf"
    conf.write_text(conf.read_text().replace("gwapp::mod_python_app", "gwapp::app"))
    with running((server, port)):
        yield Gateway("mod_python-unwrapped", port, "Apache", {"mod_python": True}, "/usr/sbin/apache2")


@contextlib.contextmanager
def gw_nginx_gunicorn(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("gunicorn")
    backend_port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{backend_port}", "--workers", "2",
        "--no-control-socket", "gwapp:create_proxied_app()",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(ctx.g), **ctx.settings()}
    backend = ServerProcess("gunicorn", argv, ctx.log("gunicorn"), env, ctx.appdir)
    nginx, port = _nginx(ctx, "nginx-proxy.conf", backend_port)
    with running((backend, backend_port), (nginx, port)):
        yield Gateway("nginx-gunicorn-proxyfix", port, "nginx", {"remote_addr": "127.0.0.1"})


def _uwsgi() -> Path:
    """uWSGI from this test run's venv, checked to embed the Python that runs the tests."""
    binary = Path(sys.executable).parent / "uwsgi"
    if not binary.exists():
        missing(f"uwsgi is not installed in {sys.prefix}: pip install --no-cache-dir -e '.[uwsgi]'")
    done = subprocess.run([binary, "--python-version"], capture_output=True, text=True, timeout=30)
    if done.stdout.strip() != platform.python_version():  # pip's wheel cache can hand over another build
        missing(
            f"{binary} embeds Python {done.stdout.strip() or '?'}, not {platform.python_version()}: "
            "pip install --force-reinstall --no-cache-dir uwsgi"
        )
    return binary


def _uwsgi_http(ctx: Ctx, name: str, drop: str = "") -> Iterator[Gateway]:
    binary = _uwsgi()
    port = free_port()
    values = {"VENV": sys.prefix, "APPDIR": str(ctx.appdir), "G": str(ctx.g), "SECRET_KEY": SECRET_KEY}
    ini = render("uwsgi-http.ini", ctx.g / "uwsgi.ini", 0o600, PORT=str(port), **values)
    if drop:
        _drop(ini, drop)
    server = ServerProcess("uwsgi", [str(binary), "--ini", str(ini)], ctx.log("uwsgi"), SERVER_ENV)
    with running((server, port)):
        yield Gateway(name, port, "", {"uwsgi": True, "multithread": True}, str(binary), ctx.log("uwsgi"))


@contextlib.contextmanager
def gw_uwsgi_http(ctx: Ctx) -> Iterator[Gateway]:
    yield from _uwsgi_http(ctx, "uwsgi-http")


@contextlib.contextmanager
def gw_uwsgi_http_default_buffer(ctx: Ctx) -> Iterator[Gateway]:
    """uWSGI's HTTP socket without ``buffer-size``: its default of 4 KiB for the request headers."""
    yield from _uwsgi_http(ctx, "uwsgi-http-default-buffer", drop="buffer-size")


def _drop(conf: Path, setting: str) -> None:
    """Take ``setting`` out of a rendered config: a variant that shows what the setting is for."""
    conf.write_text("".join(line for line in conf.read_text().splitlines(True) if not line.startswith(setting)))


def _nginx_uwsgi(ctx: Ctx, name: str, drop: str = "") -> Iterator[Gateway]:
    binary = _uwsgi()
    sock = ctx.g / "run/uwsgi.sock"
    sock.parent.mkdir(parents=True, exist_ok=True)
    values = {"VENV": sys.prefix, "APPDIR": str(ctx.appdir), "G": str(ctx.g), "SECRET_KEY": SECRET_KEY}
    ini = render("uwsgi-socket.ini", ctx.g / "uwsgi.ini", 0o600, **values)
    if drop:
        _drop(ini, drop)
    backend = ServerProcess("uwsgi", [str(binary), "--ini", str(ini)], ctx.log("uwsgi"), SERVER_ENV)
    nginx, port = _nginx(ctx, "nginx-uwsgi.conf", 0)
    with running((backend, sock), (nginx, port)):
        yield Gateway(name, port, "nginx", {"uwsgi": True}, log=ctx.log("uwsgi"))


@contextlib.contextmanager
def gw_nginx_uwsgi(ctx: Ctx) -> Iterator[Gateway]:
    yield from _nginx_uwsgi(ctx, "nginx-uwsgi")


@contextlib.contextmanager
def gw_nginx_uwsgi_default_buffer(ctx: Ctx) -> Iterator[Gateway]:
    yield from _nginx_uwsgi(ctx, "nginx-uwsgi-default-buffer", drop="buffer-size")


@contextlib.contextmanager
def gw_granian(ctx: Ctx) -> Iterator[Gateway]:
    need_modules("granian")
    port = free_port()
    args = ("--server", "granian", "--port", str(port), "--prefix", "/app", "--workers", "2", "--threads", "4")
    with running((_python_server(ctx, "granian", *args), port)):
        facts = {"server_software": "Granian", "multithread": True}
        yield Gateway("granian", port, "granian", facts, log=ctx.log("granian"), startup=_url(port, "granian"))


GATEWAYS: dict[str, Callable[[Ctx], contextlib.AbstractContextManager[Gateway]]] = {
    "wsgiref": gw_wsgiref,
    "waitress": gw_waitress,
    "gunicorn-sync": gw_gunicorn_sync,
    "gunicorn-gthread": gw_gunicorn_gthread,
    "cgi-lighttpd": gw_cgi_lighttpd,
    "cgi-lighttpd-rewrite": gw_cgi_lighttpd_rewrite,
    "cgi-apache": gw_cgi_apache,
    "fastcgi-nginx": gw_fastcgi_nginx,
    "fastcgi-lighttpd": gw_fastcgi_lighttpd,
    "scgi-nginx": gw_scgi_nginx,
    "mod_wsgi-embedded": gw_mod_wsgi_embedded,
    "mod_wsgi-daemon": gw_mod_wsgi_daemon,
    "mod_python": gw_mod_python,
    "nginx-gunicorn-proxyfix": gw_nginx_gunicorn,
    "uwsgi-http": gw_uwsgi_http,
    "nginx-uwsgi": gw_nginx_uwsgi,
    "granian": gw_granian,
}
#: Started only by the tests that name them.
EXTRA_GATEWAYS = {
    "mod_python-unwrapped": gw_mod_python_unwrapped,
    "uwsgi-http-default-buffer": gw_uwsgi_http_default_buffer,
    "nginx-uwsgi-default-buffer": gw_nginx_uwsgi_default_buffer,
}


@pytest.fixture(scope="module", params=list(GATEWAYS))
def gw(request: pytest.FixtureRequest, workroot: Path, appdir: Path) -> Iterator[Gateway]:
    """One running gateway, shared by all the checks below."""
    name: str = request.param
    g = workroot / name
    g.mkdir(mode=0o755)
    (g / "data").mkdir()  # the SQLite database and its journal: written by the app, as the server's user
    shutil.chown(g / "data", "www-data", "www-data")
    with {**GATEWAYS, **EXTRA_GATEWAYS}[name](Ctx(g, appdir, request)) as gateway:
        yield gateway


# ---------------------------------------------------------------- the HTTP client


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    gw: Gateway, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """One request on a new connection; redirects are not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


# ---------------------------------------------------------------- the checks, the same for every gateway

CAFE = "/app/echo/caf%C3%A9"


def test_real_server_answers(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app/env")
    assert reply.status == 200, reply.body
    assert reply.headers.get("Server", "").startswith(gw.server_header)
    facts = reply.json()
    for key, value in gw.facts.items():
        assert facts[key] == value, key
    assert facts["argv0"].startswith(gw.argv0)


def test_the_app_gets_its_settings_from_the_servers_config(gw: Gateway, workroot: Path) -> None:
    data = call(gw, "GET", "/app/env").json()
    assert data["secret_key_sha256"] == hashlib.sha256(SECRET_KEY.encode()).hexdigest()
    assert data["database_url"] == f"sqlite:///{workroot / gw.name}/data/app.sqlite3"
    # ... and can write the database there, as the server's user: two visits, counted in the file
    first = call(gw, "POST", "/app/visits")
    assert first.status == 200, first.body
    assert call(gw, "POST", "/app/visits").json()["visits"] == first.json()["visits"] + 1


def test_get_non_ascii_path_and_query(gw: Gateway) -> None:
    reply = call(gw, "GET", CAFE + "?q=%C3%BC+x&n=1")
    assert reply.status == 200, reply.body
    data = reply.json()
    assert data["seg"] == "café"
    assert data["args"] == {"q": "ü x", "n": "1"}
    assert (data["script_name"], data["path_info"]) == ("/app", "/echo/café")


def test_url_for_is_the_public_url(gw: Gateway) -> None:
    data = call(gw, "GET", CAFE + "?n=1").json()
    assert data["url"] == CAFE + "?n=1"
    assert data["external"] == gw.base + CAFE


def test_mount_point_itself(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app")
    assert reply.status == 200, reply.body
    data = reply.json()
    assert data["page"] == "index"
    assert data["script_name"] == "/app"
    assert data["url"] == "/app/"


def test_post_form(gw: Gateway) -> None:
    body = b"name=J%C3%BCrgen&tags=a+b"
    reply = call(gw, "POST", "/app/form", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200, reply.body
    assert reply.json() == {"form": {"name": "Jürgen", "tags": "a b"}, "content_length": len(body)}


def test_post_json(gw: Gateway) -> None:
    payload = {"text": "héllo ✓", "n": [1, 2], "big": "y" * 1_500_000}  # over nginx's default 1m limit
    reply = call(gw, "POST", "/app/json", json.dumps(payload).encode(), {"Content-Type": "application/json"})
    assert reply.status == 200, reply.body[:500]
    assert reply.json() == {"json": payload}


def test_not_found(gw: Gateway) -> None:
    assert call(gw, "GET", "/app/nope").status == 404


def test_outside_the_prefix_is_not_the_app(gw: Gateway) -> None:
    assert call(gw, "GET", "/apple").status == 404


def test_method_not_allowed(gw: Gateway) -> None:
    reply = call(gw, "POST", "/app/echo/x", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 405
    assert {"GET", "HEAD"} <= {m.strip() for m in reply.headers.get("Allow", "").split(",")}


def test_redirect_stays_behind_the_prefix(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app/go")
    assert reply.status in (302, 303)
    target = urljoin(gw.base + "/app/go", reply.headers["Location"])
    assert target == gw.base + "/app/target"
    assert call(gw, "GET", target[len(gw.base) :]).json() == {"page": "target"}


def test_streamed_response_arrives_whole(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app/stream")
    assert reply.status == 200
    assert reply.body == b"".join(stream_line(i) for i in range(STREAM_CHUNKS))


def test_head_has_no_body(gw: Gateway) -> None:
    # A raw socket: http.client would not read a body that a HEAD answer wrongly carried.
    with socket.create_connection(("127.0.0.1", gw.port), timeout=15) as sock:
        sock.sendall(f"HEAD {CAFE} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        for _ in range(1000):  # until the server closes (bounded)
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"200", head
    assert rest == b""


def _raw(gw: Gateway, method: str, path: str, headers: str = "") -> tuple[bytes, bytes]:
    """A request on a raw socket (http.client would not read a body a HEAD or 304 answer wrongly carried)."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=15) as sock:
        target = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n{headers}Connection: close\r\n\r\n"
        sock.sendall(target.encode())
        raw = b""
        for _ in range(1000):  # until the server closes (bounded)
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest


def test_send_file_ranges_304_and_head(gw: Gateway) -> None:
    source = (Path(__file__).parent / "gateways" / "myproject.py").read_bytes()
    whole = call(gw, "GET", "/app/file")
    assert whole.status == 200 and whole.body == source
    assert whole.headers["ETag"] and whole.headers["Last-Modified"]
    part = call(gw, "GET", "/app/file", headers={"Range": "bytes=3-12"})
    assert part.status == 206 and part.body == source[3:13]
    assert part.headers["Content-Range"] == f"bytes 3-12/{len(source)}"
    head, rest = _raw(gw, "GET", "/app/file", f"If-None-Match: {whole.headers['ETag']}\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"304" and rest == b"", head
    head, rest = _raw(gw, "HEAD", "/app/file")
    assert head.split(b"\r\n")[0].split()[1] == b"200" and rest == b"", head


def test_server_error_shows_no_traceback(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app/boom")
    assert reply.status == 500
    assert b"Traceback" not in reply.body
    assert SECRET.encode() not in reply.body


@pytest.mark.parametrize("gw", ["cgi-lighttpd", "cgi-lighttpd-rewrite", "cgi-apache"], indirect=True)
def test_cgi_runs_a_process_per_request(gw: Gateway) -> None:
    pids = {call(gw, "GET", "/app/env").json()["pid"] for _ in range(2)}
    assert len(pids) == 2


@pytest.mark.parametrize("gw", ["nginx-gunicorn-proxyfix"], indirect=True)
def test_proxy_fix_trusts_one_hop(gw: Gateway) -> None:
    # A client's own X-Forwarded-* values must not win: nginx appends the real address and
    # overwrites the others, and ProxyFix reads only the last hop.
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/evil"}
    data = call(gw, "GET", CAFE, headers=spoof).json()
    assert data["remote_addr"] == "127.0.0.1"
    assert data["url_scheme"] == "http"
    assert data["external"] == gw.base + CAFE


@pytest.mark.parametrize("gw", ["mod_python-unwrapped"], indirect=True)
def test_mod_python_needs_the_wrapper(gw: Gateway) -> None:
    # Why for_mod_python exists: mod_python 3.5's WSGI handler sends every answer as a 200.
    # If this fails, mod_python was fixed and the wrapper's status fix can go.
    reply = call(gw, "GET", "/app/nope")
    assert b"Not Found" in reply.body
    assert reply.status == 200


@pytest.mark.parametrize(
    "gw",
    [
        "wsgiref",
        "waitress",
        "gunicorn-sync",
        "gunicorn-gthread",
        "fastcgi-nginx",
        "fastcgi-lighttpd",
        "scgi-nginx",
        "granian",
    ],
    indirect=True,
)
def test_adapter_prints_one_startup_line(gw: Gateway) -> None:
    assert gw.log is not None
    lines = [line for line in gw.log.read_text(errors="replace").splitlines() if line.startswith(" * microweb serving")]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f" * microweb serving {gw.startup}")


BIG_COOKIE = {"Cookie": "big=" + "c" * 6000}  # over uWSGI's default buffer (4 KiB), under nginx's header line (8 KiB)


@pytest.mark.parametrize("gw", ["uwsgi-http", "nginx-uwsgi"], indirect=True)
def test_uwsgi_takes_a_big_cookie(gw: Gateway) -> None:
    reply = call(gw, "GET", "/app/env", headers=BIG_COOKIE)
    assert reply.status == 200, reply.body
    assert reply.json()["cookie_size"] == 6000


@pytest.mark.parametrize("gw", ["uwsgi-http-default-buffer"], indirect=True)
def test_uwsgi_default_buffer_drops_a_big_cookie(gw: Gateway) -> None:
    # Why the configs set buffer-size: uWSGI closes the connection on a request whose headers
    # are over 4 KiB, with no answer at all, and only its log says why.
    assert call(gw, "GET", "/app/env", headers={"Cookie": "big=small"}).json()["cookie_size"] == 5
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        call(gw, "GET", "/app/env", headers=BIG_COOKIE)
    assert_logged(gw, "invalid HTTP request size (max 4096)")


@pytest.mark.parametrize("gw", ["nginx-uwsgi-default-buffer"], indirect=True)
def test_uwsgi_default_buffer_behind_nginx_is_a_502(gw: Gateway) -> None:
    assert call(gw, "GET", "/app/env", headers={"Cookie": "big=small"}).json()["cookie_size"] == 5
    assert call(gw, "GET", "/app/env", headers=BIG_COOKIE).status == 502
    assert_logged(gw, "invalid request block size")


def assert_logged(gw: Gateway, text: str) -> None:
    """``text`` is in the gateway's log (polled: the line may land just after the answer; bounded, 5 s)."""
    assert gw.log is not None
    for _ in range(100):
        if text in gw.log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    assert text in gw.log.read_text(errors="replace")


def test_harness_stops_what_the_server_left_behind(tmp_path: Path) -> None:
    # A "server" whose child survives its parent's SIGTERM: stop() must still end it, by PID.
    port = free_port()
    code = (
        "import socket, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\n"
        "print(child.pid, flush=True)\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "time.sleep(120)\n"
    )
    server = ServerProcess("leaver", [sys.executable, "-c", code, str(port)], tmp_path / "leaver.log")
    with running((server, port)):
        child = int((tmp_path / "leaver.log").read_text().split()[0])
        assert alive(child)
    for _ in range(100):  # SIGKILL is asynchronous: give the kernel a moment (bounded)
        if not alive(child):
            break
        time.sleep(0.02)
    assert not alive(child)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
