"""The serving layer without web servers: the adapter registry, the prefix mount, CGI paths, the reloader."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
from gateways.harness import end, free_port, missing, need_modules

from microweb import App
from microweb.serving import (
    OPTION_PARSERS,
    SERVERS,
    BadServerOption,
    NotACGIRequest,
    PrefixMiddleware,
    ServerMissing,
    UnsafeDebugHost,
    _CGIInput,
    fix_cgi_paths,
    for_mod_python,
    is_loopback,
    parse_server_options,
    register_server,
    require,
    run,
)

GATEWAY_DIR = Path(__file__).parent / "gateways"


def paths_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def call(app: Any, **environ: str) -> tuple[str, bytes]:
    env: dict[str, Any] = {"QUERY_STRING": "", "SCRIPT_NAME": "", **environ}
    setup_testing_defaults(env)
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(s)
        return lambda data: None

    result = validator(app)(env, start_response)
    try:
        return status[0], b"".join(result)
    finally:
        result.close()


# ---------------------------------------------------------------- the registry


def test_registered_adapter_gets_the_app_and_options(recorder: dict[str, Any]) -> None:
    app = App(__name__)
    app.run(server="test-recorder", port=1234, threads=3)
    assert recorder == {"app": app, "host": "127.0.0.1", "port": 1234, "threads": 3}


def test_prefix_option_wraps_the_app(recorder: dict[str, Any]) -> None:
    run(paths_app, "test-recorder", prefix="/app/")
    assert call(recorder["app"], PATH_INFO="/app/x") == ("200 OK", b"/app|/x")


def test_unknown_server_names_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match="Unknown server 'nope'.*cgi, fastcgi, granian, gunicorn, scgi, waitress, wsgiref"
    ):
        run(paths_app, "nope")


def test_every_documented_server_is_registered() -> None:
    assert {"wsgiref", "cgi", "fastcgi", "scgi", "waitress", "gunicorn", "granian"} <= set(SERVERS)


def test_require_names_the_extra() -> None:
    with pytest.raises(ServerMissing, match=r"pip install 'microweb\[waitress\]'"):
        require("microweb_test_no_such_package", "waitress")


@pytest.mark.parametrize("server", ["waitress", "granian"])
def test_missing_server_package_is_one_line_without_traceback(server: str) -> None:
    code = f"import sys; sys.modules[{server!r}] = None\nfrom microweb import App\nApp().run(server={server!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr == (
        f"microweb: the {server!r} server needs the {server!r} package: pip install 'microweb[{server}]'\n"
    )


def test_server_packages_are_imported_only_when_chosen() -> None:
    code = "import sys, microweb, microweb.serving, microweb.cli; print(sorted(set(sys.modules) & MODS))"
    mods = {"flup", "gunicorn", "waitress", "watchfiles", "granian"}
    done = subprocess.run([sys.executable, "-c", code.replace("MODS", repr(mods))], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


# ---------------------------------------------------------------- server options as strings (microweb run -o)


def test_options_of_a_plain_adapter_come_from_its_signature() -> None:
    assert parse_server_options("wsgiref", {"quiet": "true"}) == {"quiet": True}
    with pytest.raises(BadServerOption, match=r"^the 'wsgiref' server takes no option 'threads'; it takes: .*quiet"):
        parse_server_options("wsgiref", {"threads": "4"})
    with pytest.raises(BadServerOption, match=r"refuses quiet='maybe': not a boolean: use true or false"):
        parse_server_options("wsgiref", {"quiet": "maybe"})


def test_flup_options() -> None:
    options = parse_server_options("fastcgi", {"umask": "077", "maxThreads": "8", "socket": "/run/a.sock"})
    assert options == {"umask": 0o77, "maxThreads": 8, "socket": "/run/a.sock"}
    with pytest.raises(BadServerOption, match="takes no option 'workers'; it takes: maxSpare, maxThreads, minSpare"):
        parse_server_options("scgi", {"workers": "2"})


def test_gunicorn_options_are_its_settings() -> None:
    need_modules("gunicorn")
    options = parse_server_options("gunicorn", {"workers": "4", "threads": "8", "worker-class": "gthread"})
    assert options == {"workers": 4, "threads": 8, "worker_class": "gthread"}
    with pytest.raises(BadServerOption, match=r"no option 'wrkers' \(did you mean workers\?\); it takes: any of"):
        parse_server_options("gunicorn", {"wrkers": "4"})
    with pytest.raises(BadServerOption, match="refuses timeout='soon'"):
        parse_server_options("gunicorn", {"timeout": "soon"})
    with pytest.raises(BadServerOption, match="^workers must be 1 or more, not 0$"):
        parse_server_options("gunicorn", {"workers": "0"})


def test_waitress_options_are_its_adjustments() -> None:
    need_modules("waitress")
    assert parse_server_options("waitress", {"threads": "8", "url_scheme": "https"}) == {
        "threads": 8,
        "url_scheme": "https",
    }
    with pytest.raises(BadServerOption, match="'waitress' server takes no option 'workers'; it takes: .*threads"):
        parse_server_options("waitress", {"workers": "2"})


def test_granian_options_are_its_arguments() -> None:
    need_modules("granian")
    from granian.constants import HTTPModes

    options = parse_server_options("granian", {"workers": "2", "threads": "4", "http": "1", "backlog": "256"})
    assert options == {"workers": 2, "blocking_threads": 4, "http": HTTPModes.http1, "backlog": 256}
    with pytest.raises(BadServerOption, match="refuses http='3': use one of auto, 1, 2"):
        parse_server_options("granian", {"http": "3"})
    with pytest.raises(BadServerOption, match="'granian' server takes no option 'interface'"):
        parse_server_options("granian", {"interface": "asgi"})  # microweb serves WSGI
    with pytest.raises(BadServerOption, match="'granian' server takes no option 'url-path-prefix'"):
        parse_server_options("granian", {"url-path-prefix": "/app"})  # it mangles paths: use prefix=


def test_an_adapter_can_bring_its_own_option_parser(recorder: dict[str, Any]) -> None:
    @register_server("test-parsed", options=lambda raw: {"size": len(raw)})
    def parsed(app: Any, **options: Any) -> None:
        raise AssertionError("not served")

    try:
        assert parse_server_options("test-parsed", {"a": "1", "b": "2"}) == {"size": 2}
        assert parse_server_options("test-recorder", {"any-name": "x"}) == {"any_name": "x"}  # **options: as given
    finally:
        del SERVERS["test-parsed"], OPTION_PARSERS["test-parsed"]


def test_cgi_adapter_without_a_cgi_request_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    with pytest.raises(NotACGIRequest, match=r"REQUEST_METHOD is not set.*a web server must run this as a CGI script"):
        App(__name__).run(server="cgi")


# ---------------------------------------------------------------- debug mode stays on loopback

LOOPBACK = ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"]
REACHABLE = ["0.0.0.0", "", "::", "192.168.1.10", "10.0.0.1", "2001:db8::1", "example.com", "localhost.example.com"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_debug_mode_is_served_on_loopback(recorder: dict[str, Any], host: str) -> None:
    assert is_loopback(host)
    app = App(__name__)
    app.run(server="test-recorder", host=host, debug=True)
    assert recorder["app"] is app and recorder["host"] == host and app.debug


@pytest.mark.parametrize("host", REACHABLE)
def test_debug_mode_on_a_reachable_host_is_refused(recorder: dict[str, Any], host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(UnsafeDebugHost) as refused:
        App(__name__).run(server="test-recorder", host=host, debug=True)
    assert recorder == {}  # never served
    message = str(refused.value)
    assert repr(host or "every interface") in message and "allow_remote_debug=True" in message
    assert "\n" not in message


@pytest.mark.parametrize("host", REACHABLE)
def test_debug_on_a_reachable_host_when_explicitly_allowed_or_without_debug(
    recorder: dict[str, Any], host: str
) -> None:
    App(__name__).run(server="test-recorder", host=host, debug=True, allow_remote_debug=True)
    assert recorder["host"] == host
    recorder.clear()
    App(__name__).run(server="test-recorder", host=host)
    assert recorder["host"] == host


def test_an_app_created_in_debug_mode_is_refused_too(recorder: dict[str, Any]) -> None:
    with pytest.raises(UnsafeDebugHost):
        run(App(__name__, debug=True), "test-recorder", host="0.0.0.0")
    with pytest.raises(UnsafeDebugHost):
        App(__name__, debug=True).run(server="test-recorder", host="0.0.0.0")
    assert recorder == {}


def test_werkzeugs_debugger_counts_as_debug_mode(recorder: dict[str, Any]) -> None:
    from werkzeug.debug import DebuggedApplication

    app = App(__name__)
    with pytest.raises(UnsafeDebugHost):
        run(DebuggedApplication(app), "test-recorder", host="0.0.0.0")
    app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=True)
    with pytest.raises(UnsafeDebugHost):
        app.run(server="test-recorder", host="0.0.0.0")
    assert recorder == {}
    app.run(server="test-recorder", host="127.0.0.1")
    assert recorder["app"] is app


def test_debug_check_comes_before_the_reloader(monkeypatch: pytest.MonkeyPatch) -> None:
    import microweb.serving

    started: list[object] = []
    monkeypatch.setattr(microweb.serving, "run_with_reloader", lambda watch: started.append(watch))
    monkeypatch.delenv(microweb.serving.RELOADER_ENV, raising=False)
    with pytest.raises(UnsafeDebugHost):
        App(__name__).run(host="0.0.0.0", debug=True, reload=True)
    assert started == []


def test_no_tcp_address_no_debug_host_check(recorder: dict[str, Any]) -> None:
    # A unix socket (FastCGI, SCGI) is reached through the web server in front, as CGI is.
    run(App(__name__, debug=True), "test-recorder", socket="/run/app.sock")
    assert recorder["socket"] == "/run/app.sock"
    with pytest.raises(UnsafeDebugHost):  # but a host given with it is still one the server may use
        run(App(__name__, debug=True), "test-recorder", host="0.0.0.0", socket="/run/app.sock")


# The addresses a server really listens on: options other than host= that name one.
REACHABLE_OPTIONS = [
    {"bind": ["0.0.0.0:8000"]},  # gunicorn, as the docs show its settings
    {"bind": "0.0.0.0:8000"},
    {"bind": ["127.0.0.1:8000", "[::]:8001"]},
    {"bind": ":8000"},
    {"bind": "tcp://192.168.1.10:80"},
    {"listen": "0.0.0.0:8080"},  # waitress
    {"listen": "127.0.0.1:8080 [::]:8080"},
    {"listen": ["*:8080"]},
    {"socket": ":3031"},  # uWSGI: a TCP address, not a path
    {"http": "0.0.0.0:8080"},
    {"http_socket": "10.0.0.1:9000"},
    {"address": "0.0.0.0"},  # Granian
    {"bindAddress": ("0.0.0.0", 9000)},  # flup
    {"bind": "fd://0"},  # not a socket: what it listens on cannot be read
    {"bind": 8000},
]
LOOPBACK_OPTIONS = [
    {"bind": ["127.0.0.1:8000", "[::1]:8001", "localhost:8002"]},
    {"bind": "unix:/run/app.sock"},
    {"listen": "127.0.0.1:8080 [::1]:8080"},
    {"socket": "/run/app.sock"},
    {"socket": "app.sock"},
    {"unix_socket": "/run/waitress.sock"},
    {"address": "127.0.0.1"},
    {"http": "127.0.0.1:8080"},
]


@pytest.mark.parametrize("options", REACHABLE_OPTIONS, ids=repr)
def test_debug_is_refused_on_any_address_an_option_names(recorder: dict[str, Any], options: dict[str, Any]) -> None:
    with pytest.raises(UnsafeDebugHost, match="allow_remote_debug=True"):
        App(__name__).run(server="test-recorder", debug=True, **options)
    assert recorder == {}
    App(__name__).run(server="test-recorder", debug=True, allow_remote_debug=True, **options)
    assert recorder["app"].debug
    recorder.clear()
    App(__name__).run(server="test-recorder", **options)  # without debug mode: served
    assert set(options) <= set(recorder)


@pytest.mark.parametrize("options", LOOPBACK_OPTIONS, ids=repr)
def test_debug_is_served_when_every_address_is_loopback(recorder: dict[str, Any], options: dict[str, Any]) -> None:
    App(__name__).run(server="test-recorder", debug=True, **options)
    assert recorder["app"].debug


def test_debug_is_refused_on_sockets_that_are_not_loopback(recorder: dict[str, Any]) -> None:
    import socket

    with socket.socket() as unbound, socket.create_server(("127.0.0.1", 0)) as bound:
        with pytest.raises(UnsafeDebugHost):  # an unbound socket would listen on 0.0.0.0
            App(__name__).run(server="test-recorder", debug=True, sockets=[bound, unbound])
        with pytest.raises(UnsafeDebugHost):
            App(__name__).run(server="test-recorder", debug=True, bind=f"fd://{unbound.fileno()}")
        App(__name__).run(server="test-recorder", debug=True, sockets=[bound], bind=f"fd://{bound.fileno()}")
        assert recorder["sockets"] == [bound]
        assert bound.getsockname()[0] == "127.0.0.1"  # the fd was looked at, not closed


def _debug_app() -> App:
    app = App(__name__, debug=True)
    app.add_route("/", lambda: 1 / 0, endpoint="crash")
    return app


def _wrapped_in_werkzeugs_debugger() -> App:
    from werkzeug.debug import DebuggedApplication
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = App(__name__)
    app.wsgi_app = ProxyFix(DebuggedApplication(app.wsgi_app, evalex=True), x_for=1)  # type: ignore[assignment]
    return app


def _middleware_function(app: Any) -> Any:
    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    return middleware


class Chooser:
    """Middleware of one's own: it keeps its apps in a list, under a name no one else uses."""

    def __init__(self, choices: list[Any]) -> None:
        self.choices = choices

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.choices[len(environ["PATH_INFO"]) % 2](environ, start_response)


def _wrappings() -> dict[str, Callable[[Any], Any]]:
    import functools

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.middleware.proxy_fix import ProxyFix
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    def mounted_in_an_app(inner: Any) -> App:
        outer = App(__name__)
        outer.mount("/inner", inner)
        return outer

    def wsgi_app_wrapped(inner: Any) -> App:
        outer = App(__name__)
        outer.wsgi_app = ProxyFix(DispatcherMiddleware(outer.wsgi_app, {"/inner": inner}))  # type: ignore[assignment]
        return outer

    return {
        "ProxyFix": lambda inner: ProxyFix(inner, x_for=1, x_proto=1),
        "DispatcherMiddleware": lambda inner: DispatcherMiddleware(paths_app, {"/debug": inner}),
        "ProxyFix(DispatcherMiddleware)": lambda inner: ProxyFix(DispatcherMiddleware(paths_app, {"/d": inner})),
        "SharedDataMiddleware": lambda inner: SharedDataMiddleware(inner, {"/static": "/nonexistent"}),
        "App.mount": mounted_in_an_app,
        "app.wsgi_app wrapped": wsgi_app_wrapped,
        "PrefixMiddleware": lambda inner: PrefixMiddleware(inner, "/app"),
        "for_mod_python": for_mod_python,
        "a closure": _middleware_function,
        "functools.partial": lambda inner: functools.partial(lambda app, e, s: app(e, s), inner),
        "a list of apps": lambda inner: Chooser([paths_app, inner]),
        "three layers": lambda inner: ProxyFix(_middleware_function(PrefixMiddleware(ProxyFix(inner), "/a"))),
    }


WRAPPINGS = sorted(_wrappings())


@pytest.mark.parametrize("wrapping", WRAPPINGS)
@pytest.mark.parametrize("inner", ["App(debug=True)", "DebuggedApplication", "wsgi_app=ProxyFix(DebuggedApplication)"])
def test_debug_mode_behind_middleware_is_refused(recorder: dict[str, Any], wrapping: str, inner: str) -> None:
    from werkzeug.debug import DebuggedApplication

    debugging = {
        "App(debug=True)": _debug_app,
        "DebuggedApplication": lambda: DebuggedApplication(App(__name__)),
        "wsgi_app=ProxyFix(DebuggedApplication)": _wrapped_in_werkzeugs_debugger,
    }[inner]()
    served = _wrappings()[wrapping](debugging)
    with pytest.raises(UnsafeDebugHost):
        run(served, "test-recorder", host="0.0.0.0")
    with pytest.raises(UnsafeDebugHost):
        run(served, "test-recorder", bind=["0.0.0.0:8000"])
    assert recorder == {}
    run(served, "test-recorder", host="127.0.0.1")
    assert recorder["app"] is served
    recorder.clear()
    run(served, "test-recorder", host="0.0.0.0", allow_remote_debug=True)
    assert recorder["app"] is served


@pytest.mark.parametrize("wrapping", WRAPPINGS)
def test_middleware_around_an_app_without_debug_is_served_anywhere(recorder: dict[str, Any], wrapping: str) -> None:
    served = _wrappings()[wrapping](App(__name__))
    run(served, "test-recorder", host="0.0.0.0")
    assert recorder["app"] is served


def test_the_walk_ends_on_cycles_and_on_odd_objects(recorder: dict[str, Any]) -> None:
    from werkzeug.local import LocalProxy
    from werkzeug.middleware.proxy_fix import ProxyFix

    class Loop:
        def __init__(self) -> None:
            self.app: Any = self
            self.proxy = LocalProxy(lambda: 1 / 0)  # fails whenever it is looked into
            self.other = [self, {"again": self}]

        def __call__(self, environ: Any, start_response: Any) -> Any:
            raise AssertionError("not called by the check")

    loop = Loop()
    run(ProxyFix(loop), "test-recorder", host="0.0.0.0")
    assert recorder["app"].app is loop
    loop.other.append(_debug_app())
    with pytest.raises(UnsafeDebugHost):
        run(ProxyFix(loop), "test-recorder", host="0.0.0.0")


# ---------------------------------------------------------------- the prefix mount


@pytest.mark.parametrize(
    ("script_name", "path_info", "expected"),
    [
        ("", "/app/echo/x", b"/app|/echo/x"),
        ("", "/app", b"/app|"),
        ("", "/app/", b"/app|/"),
        ("/app", "/echo/x", b"/app|/echo/x"),  # already split by the server: unchanged
        ("/app/echo", "/x", b"/app|/echo/x"),
    ],
)
def test_prefix_moves_the_mount_point_to_script_name(script_name: str, path_info: str, expected: bytes) -> None:
    assert call(PrefixMiddleware(paths_app, "/app"), SCRIPT_NAME=script_name, PATH_INFO=path_info) == (
        "200 OK",
        expected,
    )


@pytest.mark.parametrize("path", ["/apple", "/", "/other/app", ""])
def test_prefix_answers_404_outside_it(path: str) -> None:
    assert call(PrefixMiddleware(paths_app, "/app"), SCRIPT_NAME="", PATH_INFO=path)[0] == "404 Not Found"


# ---------------------------------------------------------------- CGI paths


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        # lighttpd and Apache, mounted at /app: already right
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/a b", "REQUEST_URI": "/app/a%20b?x=1"}, ("/app", "/a b")),
        # IIS repeats SCRIPT_NAME in PATH_INFO
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/app/x", "REQUEST_URI": "/app/x"}, ("/app", "/x")),
        # behind a rewrite rule: SCRIPT_NAME is the script's own location, not the public one
        ({"SCRIPT_NAME": "/cgi-bin/app.cgi", "PATH_INFO": "/x", "REQUEST_URI": "/app/x?q"}, ("/app", "/x")),
        # the same at the mount point itself, where PATH_INFO is empty
        ({"SCRIPT_NAME": "/cgi-bin/app.cgi", "PATH_INFO": "", "REQUEST_URI": "/app"}, ("/app", "")),
        # non-ASCII: bytes as latin-1, like PATH_INFO
        (
            {"SCRIPT_NAME": "/cgi-bin/app.cgi", "PATH_INFO": "/caf\xc3\xa9", "REQUEST_URI": "/app/caf%C3%A9"},
            ("/app", "/caf\xc3\xa9"),
        ),
        # a request path the server normalised: no mount point can be read from it
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/x", "REQUEST_URI": "/app/a/../x"}, ("/app", "/x")),
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/x", "REQUEST_URI": "/app//x"}, ("/app", "/x")),
        # nothing to check against: left alone
        ({"SCRIPT_NAME": "/cgi-bin/app.cgi", "PATH_INFO": "/x"}, ("/cgi-bin/app.cgi", "/x")),
    ],
)
def test_cgi_paths_are_normalised(environ: dict[str, str], expected: tuple[str, str]) -> None:
    env: dict[str, Any] = dict(environ)
    fix_cgi_paths(env)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == expected


def test_cgi_input_stops_at_content_length_and_drains() -> None:
    stream = io.BytesIO(b"line1\nline2\nNEXT")
    body = _CGIInput(stream, 12)
    assert body.readline() == b"line1\n"
    assert body.read(3) == b"lin"
    body.drain()
    assert body.read() == b""
    assert stream.read() == b"NEXT"  # never read past the body


def cgi_request(*args: str, body: bytes = b"", **environ: str) -> tuple[str, bytes]:
    """Run ``python -m microweb cgi`` (or ARGS) as a web server would; return the Status line and the body."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "127.0.0.1:8080",
        # The gateway tests' app module (conf/gwapp.py) and project, with the settings it reads.
        "PYTHONPATH": os.pathsep.join([str(GATEWAY_DIR / "conf"), str(GATEWAY_DIR), *sys.path]),
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": "sqlite:///:memory:",
        **environ,
    }
    argv = [sys.executable, "-m", "microweb", "cgi", "gwapp:app", *args]
    done = subprocess.run(argv, input=body, env=env, capture_output=True, timeout=30)
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), payload


@pytest.mark.slow
@pytest.mark.parametrize(("length", "status"), [("9" * 5000, "413"), (str(2**63), "413"), ("12abc", "400")])
def test_cgi_answers_a_content_length_it_cannot_read_with_a_4xx(length: str, status: str) -> None:
    # serve_cgi reads CONTENT_LENGTH to bound the body: int() refuses more than 4,300 digits.
    answer, payload = cgi_request(
        body=b"a=1",
        REQUEST_METHOD="POST",
        SCRIPT_NAME="",
        PATH_INFO="/form",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=length,
    )
    assert answer.startswith(f"Status: {status} "), (answer, payload[:300])


@pytest.mark.slow
def test_cgi_command_answers_one_request_behind_a_rewrite() -> None:
    status, payload = cgi_request(
        SCRIPT_NAME="/cgi-bin/app.cgi", PATH_INFO="/echo/x", REQUEST_URI="/app/echo/x?a=1", QUERY_STRING="a=1"
    )
    assert status == "Status: 200 OK"
    assert b'"url":"/app/echo/x?a=1"' in payload


@pytest.mark.slow
def test_cgi_command_with_a_prefix() -> None:
    # A script mounted at the server's root (lighttpd's "/" => app.cgi): the whole path in SCRIPT_NAME.
    root_mounted = {"SCRIPT_NAME": "/app/echo/x", "PATH_INFO": "", "REQUEST_URI": "/app/echo/x"}
    status, payload = cgi_request("--prefix", "/app", **root_mounted)
    assert status == "Status: 200 OK"
    assert b'"script_name":"/app","path_info":"/echo/x"' in payload
    status, _ = cgi_request("--prefix", "/app", SCRIPT_NAME="/apple", PATH_INFO="", REQUEST_URI="/apple")
    assert status == "Status: 404 Not Found"


@pytest.mark.slow
def test_cgi_command_with_an_unread_body() -> None:
    status, _ = cgi_request(
        body=b"a=1" * 1000,
        REQUEST_METHOD="POST",
        CONTENT_LENGTH="3000",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        SCRIPT_NAME="/app",
        PATH_INFO="/echo/x",
    )
    assert status.startswith("Status: 405")


# ---------------------------------------------------------------- mod_python


class ModPythonRequest:
    """What the wrapper uses of mod_python's request: it is also wsgi.input there."""

    status = 200

    def build_wsgi_env(self) -> None:
        raise AssertionError("not called by the wrapper")


def test_for_mod_python_sets_the_status_and_wsgi_strings() -> None:
    req = ModPythonRequest()
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(path=environ["PATH_INFO"])
        start_response("404 Not Found", [])
        return []

    env = {"wsgi.input": req, "SCRIPT_NAME": "/app", "PATH_INFO": "/café"}
    for_mod_python(app)(env, lambda status, headers: None)
    assert req.status == 404
    assert seen["path"] == "/caf\xc3\xa9"


def test_for_mod_python_is_a_no_op_elsewhere() -> None:
    assert call(for_mod_python(paths_app), SCRIPT_NAME="/app", PATH_INFO="/x") == ("200 OK", b"/app|/x")


# ---------------------------------------------------------------- the reloader


@pytest.mark.slow
def test_reloader_restarts_on_a_source_change(tmp_path: Path) -> None:
    need_modules("watchfiles")
    module = tmp_path / "reloadme.py"
    source = "from microweb import App\napp = App(__name__)\n\n@app.get('/')\ndef index():\n    return 'VERSION'\n"
    module.write_text(source.replace("VERSION", "one"))
    port = free_port()
    argv = [sys.executable, "-m", "microweb", "run", "reloadme:app", "--port", str(port), "--reload"]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert poll(f"http://127.0.0.1:{port}/", b"one")
        time.sleep(0.3)  # let the watcher settle on the first version
        module.write_text(source.replace("VERSION", "two"))
        assert poll(f"http://127.0.0.1:{port}/", b"two")
    finally:
        end(proc)
    assert proc.stderr is not None
    with proc.stderr:
        log = proc.stderr.read().decode()
    assert "reloader watching" in log and "reloading" in log


def poll(url: str, expected: bytes, timeout: float = 15.0) -> bool:
    """Whether ``url`` answers ``expected`` within ``timeout`` seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.1) + 1):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read() == expected:
                    return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return False


def test_a_missing_server_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nginx is not installed.*CI=true"):
        missing("nginx is not installed")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="nginx is not installed"):
        missing("nginx is not installed")
