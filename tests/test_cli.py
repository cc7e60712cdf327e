"""The ``microweb`` command: run, routes, cgi, help, and one clear line for a bad target."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from gateways.harness import end, free_port, missing, need_modules

import microweb
from microweb.cli import main

APP_SOURCE = """
from werkzeug.debug import DebuggedApplication
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from microweb import App

app = App(__name__)
debug_app = App(__name__, debug=True)
NOT_AN_APP = 42
proxied_debug_app = ProxyFix(debug_app)
dispatched_debug_app = DispatcherMiddleware(App(__name__), {"/debug": debug_app})
werkzeug_debugger = App(__name__)
werkzeug_debugger.wsgi_app = ProxyFix(DebuggedApplication(werkzeug_debugger.wsgi_app))
proxied = ProxyFix(App(__name__))


@app.get("/")
def index():
    return "hello from the cli"


@app.route("/items/<int:item_id>", methods=["GET", "PUT"])
def item(item_id):
    return {"id": item_id}


def create_app():
    factory_made = App(__name__)
    factory_made.add_route("/made", lambda: "made", endpoint="made")
    return factory_made
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with ``cliapp.py``, made the working directory (as a user would run the command)."""
    (tmp_path / "cliapp.py").write_text(APP_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cliapp", raising=False)
    return tmp_path


def test_routes_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "cliapp:app"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Rule", "Methods", "Endpoint", "Blueprint"]
    rows = [line.split() for line in lines[1:]]
    assert ["/", "GET,HEAD,OPTIONS", "index"] in rows
    assert ["/items/<int:item_id>", "GET,HEAD,OPTIONS,PUT", "item"] in rows


def test_factory_target(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "cliapp:create_app()"]) == 0
    assert "made" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        # The setting an app reads at import, or its factory reads, is missing: one line, not a traceback.
        ('import os\nKEY = os.environ["BROKEN_SECRET_KEY"]\n', "broken:app",
         "importing 'broken' failed: KeyError: 'BROKEN_SECRET_KEY' at "),
        ("import missing_dependency_xyz\n", "broken:app",
         "importing 'broken' failed: ModuleNotFoundError: No module named 'missing_dependency_xyz'"),
        ('def create_app():\n    raise RuntimeError("set BROKEN_DB first")\n', "broken:create_app()",
         "broken:create_app() failed: RuntimeError: set BROKEN_DB first at "),
        # raised inside microweb: the line named is still the user's
        ('from microweb import App\ndef create_app():\n    return App(__name__, secret_key="short")\n',
         "broken:create_app()", "broken:create_app() failed: ValueError: "),
    ],
)  # fmt: skip
def test_an_app_that_cannot_be_made_is_one_clear_line(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: str, target: str,
    message: str,
) -> None:  # fmt: skip
    (project / "broken.py").write_text(source)
    monkeypatch.delitem(sys.modules, "broken", raising=False)
    assert main(["routes", target]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("microweb: error: ") and message in err, err
    assert "broken.py:" in err and "shows the traceback" in err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchmodule:app", "no module named 'nosuchmodule'"),
        ("cliapp:nosuchapp", "module 'cliapp' has no attribute 'nosuchapp'"),
        ("cliapp:NOT_AN_APP", "'cliapp:NOT_AN_APP' is of type int, not a WSGI application"),
        ("cliapp", "'cliapp' is not MODULE:APP"),
    ],
)
def test_bad_target_is_one_clear_line(
    project: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    assert main(["routes", target]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("microweb: error: ") and message in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "microweb"], [str(Path(sys.executable).parent / "microweb")]]
)
def test_bad_target_exits_non_zero_without_traceback(project: Path, command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip("the console script is not installed (pip install -e .)")
    done = subprocess.run([*command, "run", "nosuchmodule:app"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == "microweb: error: no module named 'nosuchmodule' (run from its directory or fix PYTHONPATH)"
    )


def test_version_names_microweb_werkzeug_and_python(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    werkzeug = importlib.metadata.version("werkzeug")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    assert (out, err) == (f"microweb {microweb.__version__} (Werkzeug {werkzeug}, {python})\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+", microweb.__version__)


@pytest.mark.slow
def test_version_of_the_console_script_is_the_installed_distributions() -> None:
    script = Path(sys.executable).parent / "microweb"
    if not script.exists():
        missing(f"no console script {script}: pip install -e .")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"microweb {importlib.metadata.version('microweb')} (Werkzeug ")


@pytest.mark.parametrize("args", [[], ["run"], ["routes"], ["cgi"]])
def test_help_everywhere(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: microweb")


def test_run_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    options = ("--host", "--port", "--server", "--debug", "--reload", "--prefix", "--socket", "--allow-remote-debug")
    for option in options:
        assert option in out
    for server in ("wsgiref", "cgi", "fastcgi", "scgi", "waitress", "gunicorn"):
        assert server in out


@pytest.mark.slow
def test_run_serves_with_a_startup_line_and_request_log(project: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "microweb", "run", "cliapp:app", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = b""
        for _ in range(100):  # up to about 10 s for the server to listen
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b"hello from the cli"
        time.sleep(0.3)  # the request line is logged just after the response went out
    finally:
        end(proc)
    assert proc.stderr is not None
    with proc.stderr:
        log = proc.stderr.read().decode()
    assert f"microweb serving on http://127.0.0.1:{port}/" in log
    assert '"GET / HTTP/1.1" 200' in log


@pytest.mark.slow
@pytest.mark.parametrize("server", ["wsgiref", "waitress", "gunicorn", "granian"])
def test_port_in_use_is_one_clear_line(project: Path, server: str) -> None:
    if server != "wsgiref":
        need_modules(server)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "microweb", "run", "cliapp:app", "--port", str(port), "--server", server]
        done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr == f"microweb: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.parametrize(
    "args",
    [
        ["cliapp:app", "--debug", "--host", "0.0.0.0"],
        ["cliapp:app", "--debug", "--host", "::"],
        ["cliapp:app", "--debug", "--host", "example.com"],
        ["cliapp:debug_app", "--host", "0.0.0.0"],  # debug set in the code, not on the command line
    ],
)
def test_debug_on_a_reachable_host_is_one_clear_line_and_status_2(
    project: Path, recorder: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["run", *args, "--server", "test-recorder"]) == 2
    assert recorder == {}  # nothing served
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("microweb: error: debug mode shows tracebacks to anyone who can reach ")
    assert "--allow-remote-debug" in err


@pytest.mark.parametrize("target", ["proxied_debug_app", "dispatched_debug_app", "werkzeug_debugger"])
def test_debug_mode_behind_middleware_on_a_reachable_host_is_status_2(
    project: Path, recorder: dict[str, Any], capsys: pytest.CaptureFixture[str], target: str
) -> None:
    assert main(["run", f"cliapp:{target}", "--host", "0.0.0.0", "--server", "test-recorder"]) == 2
    assert recorder == {}
    err = capsys.readouterr().err
    assert err.startswith("microweb: error: debug mode shows tracebacks to anyone who can reach '0.0.0.0'")
    assert main(["run", f"cliapp:{target}", "--server", "test-recorder"]) == 0  # on loopback: served


def test_debug_flag_reaches_the_app_inside_a_wrapped_target(project: Path, recorder: dict[str, Any]) -> None:
    assert main(["run", "cliapp:proxied", "--debug", "--server", "test-recorder"]) == 0
    assert recorder["app"].app.debug  # the App behind ProxyFix shows tracebacks, as --debug asks
    recorder.clear()
    assert main(["run", "cliapp:proxied", "--debug", "--host", "0.0.0.0", "--server", "test-recorder"]) == 2
    assert recorder == {}


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_debug_on_loopback_is_served(project: Path, recorder: dict[str, Any], host: str) -> None:
    assert main(["run", "cliapp:app", "--debug", "--host", host, "--server", "test-recorder"]) == 0
    assert recorder["host"] == host and recorder["app"].debug


def test_allow_remote_debug_forces_it(project: Path, recorder: dict[str, Any]) -> None:
    argv = ["run", "cliapp:app", "--debug", "--host", "0.0.0.0", "--allow-remote-debug", "--server", "test-recorder"]
    assert main(argv) == 0
    assert recorder["host"] == "0.0.0.0" and recorder["app"].debug


@pytest.mark.slow
def test_debug_on_a_reachable_host_exits_2_without_traceback(project: Path) -> None:
    # 192.0.2.1 is a documentation address this machine does not have: were the check
    # missing, the server would fail to bind (status 1) rather than listen beyond loopback.
    argv = [sys.executable, "-m", "microweb", "run", "cliapp:app", "--debug", "--host", "192.0.2.1"]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr == (
        "microweb: error: debug mode shows tracebacks to anyone who can reach '192.0.2.1': serve it on "
        "127.0.0.1, or pass --allow-remote-debug (allow_remote_debug=True) if you mean it\n"
    )


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``microweb run`` would have served with: ``run`` records its arguments instead of serving."""
    import microweb.cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(microweb.cli, "run", lambda app, server, **kw: calls.append({"server": server, **kw}))
    return calls


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "argument --port: 99999 is not a port number: use 1 to 65535"),
        (["--port", "-5"], "argument --port: -5 is not a port number: use 1 to 65535"),
        (["--port", "0"], "argument --port: 0 is not a port number: use 1 to 65535"),
        (["--port", "http"], "argument --port: 'http' is not a port number (1 to 65535)"),
        (["--server", "gunicorn", "--workers", "0"], "argument --workers: '0' is not a count"),
        (["--server", "gunicorn", "--threads", "-2"], "argument --threads: '-2' is not a count"),
        (["--server", "fastcgi", "--socket", "/no/such/dir/app.sock"], "the folder of '/no/such/dir/app.sock'"),
        (["-o", "quiet"], "argument -o/--option: 'quiet' is not NAME=VALUE"),
        (["-o", "quiet=maybe"], "the 'wsgiref' server refuses quiet='maybe': not a boolean"),
        (["--threads", "4"], "the 'wsgiref' server takes no option 'threads'; it takes: "),
        (["--server", "waitress", "--workers", "2"], "the 'waitress' server takes no option 'workers'; it takes:"),
        (["--server", "gunicorn", "-o", "wrkers=2"], "no option 'wrkers' (did you mean workers?)"),
        (["--server", "gunicorn", "-o", "workers=0"], "workers must be 1 or more, not 0"),
        (["--server", "granian", "-o", "http=3"], "the 'granian' server refuses http='3': use one of auto, 1, 2"),
        (["--server", "nope"], "argument --server: invalid choice: 'nope'"),
        (["--wrokers", "2"], "unrecognized arguments: --wrokers 2"),
    ],
)
def test_bad_run_value_is_one_line_and_status_2(
    project: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    if "--server" in args and args[args.index("--server") + 1] in ("gunicorn", "waitress", "granian"):
        need_modules(args[args.index("--server") + 1])  # its adapter checks the options with the package
    try:
        status = main(["run", "cliapp:app", *args])
    except SystemExit as exc:  # argparse's own checks exit
        status = exc.code  # type: ignore[assignment]
    assert status == 2
    assert served == []  # checked before anything starts
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("microweb: error: ") and message in err


def test_server_options_reach_the_adapter_converted(project: Path, served: list[dict[str, Any]]) -> None:
    need_modules("gunicorn")
    argv = ["run", "cliapp:app", "--server", "gunicorn", "--workers", "4", "--threads", "8"]
    assert main([*argv, "-o", "timeout=60", "-o", "worker-class=gthread", "--port", "8081"]) == 0
    [call] = served
    assert call["server"] == "gunicorn" and call["port"] == 8081
    assert {k: call[k] for k in ("workers", "threads", "timeout", "worker_class")} == {
        "workers": 4,
        "threads": 8,
        "timeout": 60,
        "worker_class": "gthread",
    }


def test_run_help_lists_each_adapters_main_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--workers N" in out and "--threads N" in out and "-o NAME=VALUE" in out
    rows = {line.split()[0]: line for line in out.split("server options")[1].splitlines()[1:] if line.strip()}
    assert "workers, threads, worker_class" in rows["gunicorn"]
    assert "threads (its blocking_threads)" in rows["granian"]
    assert "threads, connection_limit" in rows["waitress"]
    assert "umask" in rows["fastcgi"] and "maxThreads" in rows["scgi"]
    assert "quiet" in rows["wsgiref"]


@pytest.mark.slow
@pytest.mark.parametrize("port", ["99999", "-5"])
def test_bad_port_exits_2_without_traceback(project: Path, port: str) -> None:
    argv = [sys.executable, "-m", "microweb", "run", "cliapp:app", "--port", port]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr == (
        f"microweb: error: argument --port: {port} is not a port number: use 1 to 65535 (see: microweb run --help)\n"
    )


@pytest.mark.slow
def test_cgi_by_hand_exits_2_without_traceback(project: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("REQUEST_METHOD", "GATEWAY_INTERFACE")}
    argv = [sys.executable, "-m", "microweb", "cgi", "cliapp:app"]
    done = subprocess.run(
        argv, cwd=project, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "microweb: error: no CGI request here (REQUEST_METHOD is not set): a web server must run this as a CGI "
        "script; to serve the app yourself, use 'microweb run MODULE:APP'\n"
    )
