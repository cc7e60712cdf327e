"""The examples behind real servers: cgi_hello as CGI under lighttpd, fastcgi_env through flup behind
nginx, and the wiki on one gateway of each family (wsgiref, CGI, FastCGI, mod_wsgi).

Servers start on free 127.0.0.1 ports in a temp directory and are stopped by
PID whatever happens (helper-1's harness). Missing servers skip, or fail
with ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples_support import EXAMPLES, ROOT
from examples_support.servers import HttpClient, check_wiki_session, checked, readable_copy, wiki_venv
from gateways.harness import ServerProcess, free_port, missing, need_modules, program, render, running

pytestmark = pytest.mark.slow

SERVER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
SECRET = "gateway-secret-0123456789abcdef0"


@pytest.fixture
def g() -> Iterator[Path]:
    """A per-test directory every server user can read (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="microweb-ex-"))
    root.chmod(0o755)
    for sub in ("run", "logs", "docroot", "tmp"):
        (root / sub).mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def lighttpd_cgi(g: Path, mount: str, script: Path, env: dict[str, str] | None = None) -> tuple[ServerProcess, int]:
    """lighttpd running ``script`` as CGI at ``mount``, with this test run's Python."""
    lighttpd = program("lighttpd")
    port = free_port()
    setenv = ", ".join(f'"{k}" => "{v}"' for k, v in (env or {}).items())
    conf = g / "lighttpd.conf"
    conf.write_text(
        f"""# lighttpd runs the script once per request: lighttpd -D -f lighttpd.conf
server.bind          = "127.0.0.1"
server.port          = {port}
server.document-root = "{g}/docroot"
server.errorlog      = "{g}/logs/error.log"
server.breakagelog   = "{g}/logs/cgi-stderr.log"
server.modules      += ( "mod_alias", "mod_cgi", "mod_setenv" )
alias.url            = ( "{mount}" => "{script}" )
cgi.assign           = ( ".py" => "{sys.executable}", ".cgi" => "" )
setenv.add-environment = ( {setenv} )
"""
    )
    checked([lighttpd, "-tt", "-f", str(conf)], "lighttpd")
    return ServerProcess("lighttpd", [lighttpd, "-D", "-f", str(conf)], g / "logs/lighttpd.log", SERVER_ENV), port


def nginx_fastcgi(g: Path, backend_port: int) -> tuple[ServerProcess, int]:
    """nginx passing /app to a FastCGI backend: the gateway tests' config templates, as the docs show them."""
    nginx = program("nginx")
    port = free_port()
    shutil.chown(g / "tmp", "www-data", "www-data")
    block = render("nginx-fastcgi.conf", g / "location.conf", BACKEND_PORT=str(backend_port)).read_text()
    conf = render("nginx.conf", g / "nginx.conf", G=str(g), PORT=str(port), LOCATION=block)
    argv = [nginx, "-c", str(conf), "-p", f"{g}/", "-e", str(g / "logs/error.log")]
    checked([*argv, "-t"], "nginx")
    return ServerProcess("nginx", argv, g / "logs/nginx.log", SERVER_ENV), port


# ---------------------------------------------------------------- the HOWTO programs


def test_cgi_hello_under_lighttpd(g: Path) -> None:
    server, port = lighttpd_cgi(g, "/hello", EXAMPLES / "cgi_hello.py")
    with running((server, port)):
        client = HttpClient(port)
        reply = client.get("/hello")
        assert reply.status == 200 and reply.text == "Hello World!\n"
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert reply.headers["Server"].startswith("lighttpd")
        error = client.get("/hello/error")
        assert error.status == 500 and "hunter2" not in error.text and "Traceback" not in error.text
    assert "hunter2" in (g / "logs/cgi-stderr.log").read_text()  # the traceback is in the server's log


def test_fastcgi_env_through_flup_behind_nginx(g: Path) -> None:
    need_modules("flup")
    backend_port = free_port()
    argv = [sys.executable, str(EXAMPLES / "fastcgi_env.py"), "--port", str(backend_port)]
    backend = ServerProcess("flup", argv, g / "logs/flup.log", {**os.environ, "HOME": str(g)})
    nginx, port = nginx_fastcgi(g, backend_port)
    with running((backend, backend_port), (nginx, port)):
        reply = HttpClient(port).request("GET", "/app/?q=%3Cb%3E")
    assert reply.status == 200 and reply.headers["Server"].startswith("nginx")
    assert "<h1>FastCGI Environment</h1>" in reply.text
    assert "<tr><th>SCRIPT_NAME</th><td>/app</td></tr>" in reply.text
    assert "<tr><th>QUERY_STRING</th><td>q=%3Cb%3E</td></tr>" in reply.text
    assert "<tr><th>wsgi.multithread</th><td>True</td></tr>" in reply.text  # flup's threaded server


# ---------------------------------------------------------------- the wiki, one gateway per family


@contextlib.contextmanager
def wiki_wsgiref(g: Path) -> Iterator[tuple[int, str, str]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{g}/wiki.sqlite3", "SECRET_KEY": SECRET}
    argv = [sys.executable, str(EXAMPLES / "wiki"), "--port", str(port)]  # the Examples page's command
    with running((ServerProcess("wsgiref", argv, g / "logs/wiki.log", env), port)):
        yield port, "", "WSGIServer/"


@contextlib.contextmanager
def wiki_cgi_lighttpd(g: Path) -> Iterator[tuple[int, str, str]]:
    script = g / "cgi-bin/wiki.cgi"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        '"""The wiki as a CGI script: the web server runs it once per request."""\n'
        f"import sys\nsys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from wiki import create_app\n"
        "create_app().run(server='cgi')\n"
    )
    script.chmod(0o755)
    env = {"DATABASE_URL": f"sqlite:///{g}/wiki.sqlite3", "SECRET_KEY": SECRET}
    server, port = lighttpd_cgi(g, "/wiki", script, env)
    with running((server, port)):
        yield port, "/wiki", "lighttpd"


@contextlib.contextmanager
def wiki_fastcgi_nginx(g: Path) -> Iterator[tuple[int, str, str]]:
    need_modules("flup")
    backend_port = free_port()
    argv = [sys.executable, "-m", "microweb", "run", "wiki:create_app()", "--server", "fastcgi"]
    env = {**os.environ, "HOME": str(g), "DATABASE_URL": f"sqlite:///{g}/wiki.sqlite3", "SECRET_KEY": SECRET}
    backend = ServerProcess("flup", [*argv, "--port", str(backend_port)], g / "logs/flup.log", env, EXAMPLES)
    nginx, port = nginx_fastcgi(g, backend_port)
    with running((backend, backend_port), (nginx, port)):
        yield port, "/app", "nginx"


@contextlib.contextmanager
def wiki_mod_wsgi(g: Path) -> Iterator[tuple[int, str, str]]:
    apache = Path("/usr/sbin/apache2")
    if not apache.exists() or not Path("/usr/lib/apache2/modules/mod_wsgi.so").exists():
        missing("apache2 with mod_wsgi is not installed (run .ci/install-servers)")
    venv = wiki_venv()
    appdir = readable_copy(g / "app", ROOT / "microweb", EXAMPLES / "wiki")
    data = g / "data"  # the SQLite file and its journal: written by the daemon, which runs as www-data
    data.mkdir()
    shutil.chown(data, "www-data", "www-data")
    wsgi = g / "wsgi/app.wsgi"
    wsgi.parent.mkdir(mode=0o755)
    wsgi.write_text(
        "# The mod_wsgi script file: it only has to provide `application`.\n"
        "import os\n"
        f"os.environ.setdefault('DATABASE_URL', 'sqlite:///{data}/wiki.sqlite3')\n"
        f"os.environ.setdefault('SECRET_KEY', {SECRET!r})\n"
        "from wiki import create_app\n"
        "application = create_app()\n"
    )
    wsgi.chmod(0o644)
    port = free_port()
    gateway = render("apache-mod-wsgi-daemon.conf", g / "gateway.conf", G=str(g), VENV=str(venv), APPDIR=str(appdir))
    conf = render("apache.conf", g / "httpd.conf", G=str(g), PORT=str(port), GATEWAY=gateway.read_text())
    checked([str(apache), "-t", "-f", str(conf)], "apache2")
    server = ServerProcess("apache2", [str(apache), "-f", str(conf), "-DFOREGROUND"], g / "logs/apache.log", SERVER_ENV)
    with running((server, port)):
        yield port, "/app", "Apache"


WIKI_GATEWAYS = {
    "wsgiref": wiki_wsgiref,
    "cgi-lighttpd": wiki_cgi_lighttpd,
    "fastcgi-nginx": wiki_fastcgi_nginx,
    "mod_wsgi-daemon": wiki_mod_wsgi,
}


@pytest.mark.parametrize("gateway", list(WIKI_GATEWAYS))
def test_wiki_runs_unchanged_on(gateway: str, g: Path) -> None:
    need_modules("sqlalchemy")
    with WIKI_GATEWAYS[gateway](g) as (port, prefix, server_header):
        assert HttpClient(port).get(f"{prefix}/recent").headers["Server"].startswith(server_header)
        check_wiki_session(port, prefix)


# ---------------------------------------------------------------- the Examples page's commands, as written


@pytest.mark.parametrize(
    ("command", "path", "expected"),
    [
        ("hello.py", "/?name=Ann", "<h1>Hello, Ann!</h1>"),
        ("guestbook.py", "/", "<h1>Guestbook</h1>"),
        ("embed.py", "/", "<h1>The site</h1>"),
        ("flatfile_notes.py", "/notes", "[]"),
        ("zodb_notes.py", "/notes", "[]"),
    ],
)
def test_examples_page_command_serves(command: str, path: str, expected: str, tmp_path: Path) -> None:
    # docs/examples.md's one command per example, run in an empty folder (where the data files go), on port 8000.
    assert f"python examples/{command} " in (ROOT / "docs" / "examples.md").read_text(encoding="utf-8")
    if command == "zodb_notes.py":
        need_modules("ZODB")
    with contextlib.closing(socket.socket()) as probe:
        if probe.connect_ex(("127.0.0.1", 8000)) == 0:
            missing("port 8000, which the Examples page's commands use, is taken on this machine")
    argv = [sys.executable, str(EXAMPLES / command)]
    with running((ServerProcess(command, argv, tmp_path / "server.log", {**os.environ}, tmp_path), 8000)):
        reply = HttpClient(8000).get(path)
    assert reply.status == 200 and expected in reply.text
