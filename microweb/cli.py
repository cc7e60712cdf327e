"""The ``microweb`` command: run an app, list its routes, answer one CGI request."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
import sysconfig
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .serving import (
    SERVERS,
    BadServerOption,
    NotACGIRequest,
    ServerMissing,
    UnsafeDebugHost,
    main_options,
    microweb_apps,
    parse_server_options,
    run,
)


class TargetError(Exception):
    """A ``MODULE:APP`` target that does not name a WSGI app."""


def load_app(target: str) -> Any:
    """Import ``MODULE:APP`` (or ``MODULE:factory()``) and return the WSGI app it names."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise TargetError(f"{target!r} is not MODULE:APP (e.g. hello:app or hello:create_app())")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise TargetError(f"no module named {module_name!r} (run from its directory or fix PYTHONPATH)") from None
        raise TargetError(_failed(f"importing {module_name!r}", exc, f"import {module_name}")) from None
    except Exception as exc:  # a missing setting read at import, most often: one line, not a traceback
        raise TargetError(_failed(f"importing {module_name!r}", exc, f"import {module_name}")) from None
    call = attr.endswith("()")
    name = attr[:-2] if call else attr
    try:
        obj = getattr(module, name)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {name!r}") from None
    if call:
        try:
            obj = obj()
        except Exception as exc:
            rerun = f"import {module_name}; {module_name}.{attr}"
            raise TargetError(_failed(f"{module_name}:{attr}", exc, rerun)) from None
    if not callable(obj):
        raise TargetError(f"{target!r} is of type {type(obj).__name__}, not a WSGI application")
    return obj


def _failed(what: str, exc: Exception, rerun: str) -> str:
    """One line for an app that could not be made: the error, where it was raised, and how to see more."""
    # The deepest frame in the user's own code: the line to fix, rather than one in os or a library.
    paths = sysconfig.get_paths()
    libraries = (*(paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")), os.path.dirname(__file__))
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if not frame.filename.startswith("<")]
    own = [frame for frame in frames if not frame.filename.startswith(libraries)] or frames
    where = f" at {own[-1].filename}:{own[-1].lineno}" if own else ""
    return f"{what} failed: {type(exc).__name__}: {exc}{where} (python -c {rerun!r} shows the traceback)"


def _routes(app: Any) -> str:
    url_map = getattr(app, "url_map", None)
    if url_map is None:
        raise TargetError("this app has no url_map to list")
    blueprints = getattr(app, "endpoint_blueprints", {})
    rows = [("Rule", "Methods", "Endpoint", "Blueprint")]
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        endpoint = str(rule.endpoint)
        rows.append((rule.rule, ",".join(sorted(rule.methods or ())), endpoint, blueprints.get(endpoint, "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad command line told in one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"microweb: error: {message} (see: {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: use 1 to 65535")
    return port


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count: use a whole number, 1 or more")
    return count


def _socket_path(text: str) -> str:
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder of {text!r} ({folder}) does not exist: create it first")
    return text


def _name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. -o timeout=60)")
    return name.strip(), value


def _server_options_help() -> str:
    width = max(map(len, SERVERS))
    rows = [f"  {name.ljust(width)}  {main_options(name)}" for name in sorted(SERVERS)]
    return "server options (--workers, --threads, -o NAME=VALUE), the main ones:\n" + "\n".join(rows)


def version() -> str:
    """What ``microweb --version`` prints: microweb's version, then the Werkzeug and Python it runs on."""
    werkzeug = importlib.metadata.version("werkzeug")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"microweb {__version__} (Werkzeug {werkzeug}, {python})"


def _parser(named: bool = True) -> argparse.ArgumentParser:
    """The command line; with ``named=False`` the commands take no MODULE:APP (the app is given)."""
    parser = _Parser(prog="microweb", description="Run and inspect microweb (or any WSGI) apps.")
    parser.add_argument("--version", action="version", version=version(), help="show the versions and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "run",
        help="serve an app",
        description="Serve MODULE:APP.",
        epilog=_server_options_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if named:
        serve.add_argument("target", metavar="MODULE:APP", help="e.g. hello:app or hello:create_app()")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on, 1 to 65535 (default 8000)")
    serve.add_argument("--server", default="wsgiref", choices=sorted(SERVERS), help="server adapter (default wsgiref)")
    serve.add_argument(
        "--socket", type=_socket_path, metavar="PATH", help="unix socket to listen on instead (fastcgi, scgi)"
    )
    serve.add_argument("--workers", type=_count, metavar="N", help="worker processes (gunicorn, granian)")
    serve.add_argument("--threads", type=_count, metavar="N", help="threads per worker (gunicorn, waitress, granian)")
    serve.add_argument(
        "-o",
        "--option",
        dest="options",
        type=_name_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other option of the server, checked by its adapter (repeatable)",
    )
    serve.add_argument("--prefix", metavar="PATH", help="serve the app under this path, e.g. /app")
    serve.add_argument("--debug", action="store_true", help="show tracebacks on error pages (development only)")
    serve.add_argument("--reload", action="store_true", help="restart when a .py file of the app changes")
    serve.add_argument(
        "--allow-remote-debug",
        action="store_true",
        help="allow --debug on a --host other than loopback (127.0.0.1, ::1, localhost): unsafe",
    )
    routes = commands.add_parser("routes", help="list an app's URL rules", description="List the rules of MODULE:APP.")
    if named:
        routes.add_argument("target", metavar="MODULE:APP")
    cgi = commands.add_parser("cgi", help="answer one CGI request", description="Run MODULE:APP as a CGI script.")
    if named:
        cgi.add_argument("target", metavar="MODULE:APP")
    cgi.add_argument("--prefix", metavar="PATH", help="the URL path the script is served at, e.g. /app")
    return parser


def _server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The --socket, --workers, --threads and -o values, checked and converted by the chosen adapter."""
    raw = dict(args.options)
    for name in ("socket", "workers", "threads"):
        value = getattr(args, name)
        if value is not None:
            raw[name] = str(value)
    return parse_server_options(args.server, raw)


def _serve(args: argparse.Namespace, app: Any, options: dict[str, Any]) -> None:
    if args.debug:  # on the apps inside a wrapped target (ProxyFix(app)), or on the target itself
        for debugged in microweb_apps(app) or [app]:
            debugged.debug = True
    run(
        app,
        args.server,
        host=args.host,
        port=args.port,
        prefix=args.prefix,
        reload=args.reload,
        allow_remote_debug=args.allow_remote_debug,
        **options,
    )


def main(argv: Sequence[str] | None = None, *, app: Any = None) -> int:
    """Entry point of the ``microweb`` console script; returns the exit status.

    With ``app`` (a WSGI app object), the command runs on it and the command line names
    no MODULE:APP: ``main(["routes"], app=app)``, as the test ``runner`` does.
    """
    args = _parser(named=app is None).parse_args(argv)
    try:
        options = _server_options(args) if args.command == "run" else {}
        if app is None:
            app = load_app(args.target)
        if args.command == "routes":
            print(_routes(app))
        elif args.command == "cgi":
            run(app, "cgi", prefix=args.prefix)
        else:
            _serve(args, app, options)
    except (TargetError, UnsafeDebugHost, BadServerOption, NotACGIRequest) as exc:
        print(f"microweb: error: {exc}", file=sys.stderr)
        return 2
    except ServerMissing as exc:  # checking the options needed the server's package
        print(f"microweb: {exc}", file=sys.stderr)
        return 1
    return 0
