"""Serving an app: a registry of server adapters, chosen by name in ``App.run``.

Each adapter is a function ``adapter(app, host=..., port=..., **options)``
that serves ``app`` until the process is stopped. It imports its server only
when it runs, so choosing one never costs the others; a missing server
package is one clear line naming the extra to install. Add your own with
:func:`register_server`.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import os
import shlex
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote_to_bytes

from .http import is_loopback

if TYPE_CHECKING:
    import socket

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ServerAdapter = Callable[..., None]
SERVERS: dict[str, ServerAdapter] = {}
#: Turns ``NAME=VALUE`` strings (``microweb run -o``) into a server's options, or raises :class:`BadServerOption`.
OptionParser = Callable[[Mapping[str, str]], dict[str, Any]]
OPTION_PARSERS: dict[str, OptionParser] = {}
#: Each server's main options, as ``microweb run --help`` lists them.
MAIN_OPTIONS: dict[str, str] = {}

#: Set in the child process the reloader starts, so that it serves instead of watching.
RELOADER_ENV = "MICROWEB_RELOADER_CHILD"


class ServerMissing(ImportError):
    """The package a server adapter needs is not installed."""


class UnsafeDebugHost(ValueError):
    """Debug mode on an address that other machines can reach, without ``allow_remote_debug``."""


class BadServerOption(ValueError):
    """An option the chosen server does not take, or a value it refuses."""


class NotACGIRequest(RuntimeError):
    """The CGI adapter was started without a CGI request in its environment (by hand, not by a web server)."""


def register_server(
    name: str, *, options: OptionParser | None = None, main: str = ""
) -> Callable[[ServerAdapter], ServerAdapter]:
    """Register ``adapter(app, host=..., port=..., **options)`` as server ``name``.

    ``options`` checks and converts ``NAME=VALUE`` strings from the command
    line (by default: the adapter's keyword parameters and their annotations);
    ``main`` names the main ones for ``microweb run --help``.
    """

    def decorator(adapter: ServerAdapter) -> ServerAdapter:
        SERVERS[name] = adapter
        if options is not None:
            OPTION_PARSERS[name] = options
        if main:
            MAIN_OPTIONS[name] = main
        return adapter

    return decorator


def run(
    app: WSGIApplication,
    server: str = "wsgiref",
    *,
    prefix: str | None = None,
    reload: bool = False,
    allow_remote_debug: bool = False,
    **options: Any,
) -> None:
    """Serve ``app`` with the server adapter called ``server``.

    ``prefix`` serves the app under that path (``/app``: SCRIPT_NAME ``/app``,
    404 elsewhere); ``reload`` restarts the server when a source file changes.
    An app in debug mode is only served on a loopback address unless
    ``allow_remote_debug`` (see :func:`check_debug_host`). The other options
    go to the adapter.
    """
    try:
        adapter = SERVERS[server]
    except KeyError:
        raise ValueError(f"Unknown server {server!r}; choose one of: {', '.join(sorted(SERVERS))}") from None
    if server != "cgi":  # CGI is reached only through the web server that runs it
        check_debug_host(app, listen_hosts(options), allow_remote_debug=allow_remote_debug)
    if allow_remote_debug:  # meant: the debug pages go to clients at other addresses too
        for inner in microweb_apps(app):
            inner.config["DEBUG_REMOTE"] = True
    try:
        if reload and not os.environ.get(RELOADER_ENV):
            run_with_reloader(watch=[_app_dir(app), os.getcwd()])
            return
        if prefix:
            app = PrefixMiddleware(app, prefix)
        adapter(app, **options)
    except ServerMissing as exc:
        # One line, no traceback: the fix is an install command, not a code change.
        raise SystemExit(f"microweb: {exc}") from None


def _debugging(app: object) -> bool:
    """Whether ``app``, or any app it wraps or mounts, shows tracebacks.

    That is a ``debug`` flag set to True, or Werkzeug's ``DebuggedApplication``,
    anywhere behind the served object: middleware attributes (``app``,
    ``wsgi_app``, ``mounts`` of ``DispatcherMiddleware``, any other), an
    App's mounted apps, ``functools.partial`` and closures. A graph too big to
    walk counts as debugging: the check must not be the way round the refusal.
    """
    found = _walk(app, _shows_tracebacks)
    return found is None or bool(found)


def _is_app(kind: type) -> bool:
    """Whether ``kind`` is microweb's App or a subclass, known by name: this module must not import app.py.

    (app.py imports this module in ``App.run``; the other way round would make an import cycle.)
    """
    return any(cls.__name__ == "App" and cls.__module__ == "microweb.app" for cls in kind.__mro__)


def microweb_apps(app: object) -> list[Any]:
    """Every microweb App that ``app`` is, wraps or mounts (as ``_debugging`` finds them)."""
    apps: list[Any] = []

    def collect(obj: object) -> bool:
        if _is_app(type(obj)):  # type(), not isinstance: a proxy fails when asked for its __class__
            apps.append(obj)
        return False  # look on

    _walk(app, collect)
    return apps


def _walk(root: object, match: Callable[[object], bool]) -> list[object] | None:
    """``[the first object behind root that matches]``, ``[]`` if none does, None if there were too many to look at."""
    seen: set[int] = set()
    keep: list[object] = []  # every object looked at stays alive, so no id is reused during the walk
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        if len(seen) >= _WALK_LIMIT:
            return None
        if match(obj):
            return [obj]
        seen.add(id(obj))
        keep.append(obj)
        try:
            todo += _behind(obj)
        except Exception:  # an object that fails when looked at: it hides nothing readable
            continue
    return []


def _shows_tracebacks(obj: object) -> bool:
    debugger = sys.modules.get("werkzeug.debug")  # not imported: nothing can be wrapped in it
    if debugger is not None and issubclass(type(obj), debugger.DebuggedApplication):
        return True
    try:
        return getattr(obj, "debug", False) is True
    except Exception:  # a proxy outside its context, a property that fails: no flag to read
        return False


def _behind(obj: Any) -> list[object]:
    """The objects ``obj`` may pass a request to (or hold such objects)."""
    kind = type(obj)  # not isinstance: a proxy (werkzeug's LocalProxy) fails when asked for its __class__
    if _is_app(kind):
        return [getattr(obj, "wsgi_app", None), *(mounted for _, mounted in getattr(obj, "mounts", ()))]
    if issubclass(kind, dict):
        return _servable(obj.values())
    if issubclass(kind, (list, tuple, set, frozenset)):
        return _servable(obj)
    if issubclass(kind, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if issubclass(kind, types.MethodType):
        return [obj.__self__, obj.__func__]
    if issubclass(kind, types.FunctionType):
        defaults = [*(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values()]
        return _servable([*_cells(obj), *defaults, vars(obj)])
    try:
        return _servable(vars(obj).values())
    except TypeError:  # no __dict__
        return []


def _servable(values: Iterable[object]) -> list[object]:
    return [value for value in values if _may_serve(value)]


def _may_serve(value: object) -> bool:
    """Whether ``value`` is a callable that may be an app, or a container that may hold one."""
    kind = type(value)
    if issubclass(kind, (type, types.ModuleType, types.BuiltinFunctionType)):
        return False
    return callable(value) or issubclass(kind, (dict, list, tuple, set, frozenset))


def _cells(func: types.FunctionType) -> list[object]:
    values: list[object] = []
    for cell in func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # a closure variable not assigned yet
            pass
    return values


def check_debug_host(app: object, host: str | Iterable[str] | None, *, allow_remote_debug: bool = False) -> None:
    """Refuse to serve an app in debug mode on a non-loopback address unless ``allow_remote_debug``.

    ``host`` is the host, or every host, the server will listen on (see
    :func:`listen_hosts`); None means one could not be read, and counts as
    reachable. A debug traceback shows source code and values to whoever gets
    it, and Werkzeug's debugger runs the Python they type.
    """
    hosts = [host] if isinstance(host, str) else None if host is None else list(host)
    reachable = [h for h in hosts if not is_loopback(h)] if hosts is not None else [None]
    if allow_remote_debug or not reachable or not _debugging(app):
        return
    where = "an address microweb cannot read" if reachable[0] is None else repr(reachable[0] or "every interface")
    raise UnsafeDebugHost(
        f"debug mode shows tracebacks to anyone who can reach {where}: "
        "serve it on 127.0.0.1, or pass --allow-remote-debug (allow_remote_debug=True) if you mean it"
    )


#: Options that name where a server listens, besides ``host``: gunicorn ``bind``, waitress ``listen``,
#: ``sockets`` and ``unix_socket``, flup and uWSGI ``socket``, uWSGI ``http``/``https``/``http_socket``/
#: ``uwsgi_socket``, Granian ``address``. An adapter with an option of its own adds its name here.
ADDRESS_OPTIONS = {
    "bind",
    "listen",
    "sockets",
    "socket",
    "unix_socket",
    "http",
    "https",
    "http_socket",
    "uwsgi_socket",
    "address",
    "bindAddress",
}
_PATH_OR_ADDRESS = {"socket", "uwsgi_socket", "bindAddress"}  # a value without a port is a unix socket path
_WALK_LIMIT = 10_000  # objects looked at behind the served app; more and it is taken as debugging


def listen_hosts(options: dict[str, Any]) -> list[str] | None:
    """Every host a server given ``options`` may listen on (None: some address could not be read)."""
    hosts = [str(options.get("host", "127.0.0.1"))]
    for name in sorted(ADDRESS_OPTIONS & options.keys()):
        value = options[name]
        if name == "unix_socket" or (name in _PATH_OR_ADDRESS and isinstance(value, str) and ":" not in value):
            continue
        found = _address_hosts(value)
        if found is None:
            return None
        hosts += found
    return hosts


def _address_hosts(value: Any) -> list[str] | None:
    """The hosts that an address option's ``value`` names: ``[]`` for unix sockets, None if unknown.

    Understands what the adapters take: ``"host:port"``, ``"[::1]:port"``, ``":port"``,
    ``tcp://``, ``unix:`` and ``fd://`` (gunicorn), space-separated lists (waitress ``listen``),
    ``(host, port)`` tuples (flup), socket objects and lists of any of these.
    """
    sockets = sys.modules.get("socket")  # not imported: no socket object can have been made
    if sockets is not None and isinstance(value, sockets.socket):
        return _socket_hosts(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value[0]]
    if isinstance(value, (list, tuple, set, frozenset)):
        return _all_hosts(value)
    if not isinstance(value, str):
        return None
    if " " in value.strip():
        return _all_hosts(value.split())
    address = value.strip().removeprefix("tcp://").removeprefix("http://").removeprefix("https://")
    if address.startswith(("unix:", "/", ".", "~", "@")):
        return []  # a unix socket path (``@``: Linux's abstract namespace)
    if address.startswith("fd://"):
        return _fd_hosts(address[5:])
    if address.startswith("["):
        return [address[1:].partition("]")[0]]
    if address.count(":") == 1:
        return [address.partition(":")[0]]
    return [address]  # a bare host, or an IPv6 address without a port


def _all_hosts(values: Iterable[Any]) -> list[str] | None:
    hosts: list[str] = []
    for value in values:
        found = _address_hosts(value)
        if found is None:
            return None
        hosts += found
    return hosts


def _socket_hosts(sock: socket.socket) -> list[str] | None:
    if getattr(sock.family, "name", "") == "AF_UNIX":
        return []
    try:
        return [str(sock.getsockname()[0])]  # an unbound socket says 0.0.0.0: refused, rightly
    except OSError:
        return None


def _fd_hosts(fd: str) -> list[str] | None:
    """The address of an inherited socket, by its file descriptor (kept open)."""
    import socket

    try:
        sock = socket.socket(fileno=int(fd))
    except (ValueError, OSError):
        return None
    try:
        return _socket_hosts(sock)
    finally:
        sock.detach()


def require(module: str, extra: str) -> Any:
    """Import ``module`` for a server adapter, or fail with the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise ServerMissing(
                f"the {extra!r} server needs the {exc.name!r} package: pip install 'microweb[{extra}]'"
            ) from None
        raise


# ---------------------------------------------------------------- server options from the command line

#: Workers and threads come from the command line as counts: zero would serve nothing.
_COUNTS = ("workers", "threads", "blocking_threads", "processes")


def parse_server_options(server: str, raw: Mapping[str, str]) -> dict[str, Any]:
    """Check and convert ``NAME=VALUE`` options for ``server``, as its adapter takes them.

    Raises :class:`BadServerOption` (one line) for an option the adapter does
    not take or a value it refuses, and :class:`ServerMissing` when checking
    needs the server's package.
    """
    if not raw:
        return {}
    parser = OPTION_PARSERS.get(server) or _signature_parser(server, SERVERS[server])
    options = parser(raw)
    for key in _COUNTS:
        value = options.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise BadServerOption(f"{key} must be 1 or more, not {value}")
    return options


def parse_options(
    server: str,
    table: Mapping[str, Callable[[str], Any]],
    raw: Mapping[str, str],
    *,
    takes: str = "",
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Convert ``raw`` with ``table`` (option name -> converter); ``-`` in a name counts as ``_``.

    ``takes`` replaces the list of names in the message for an unknown option.
    """
    options: dict[str, Any] = {}
    for name, value in raw.items():
        key = name.replace("-", "_")
        key = (aliases or {}).get(key, key)
        convert = table.get(key)
        if convert is None:
            close = difflib.get_close_matches(key, list(table), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            listed = takes or (", ".join(sorted(table)) if table else "none")
            raise BadServerOption(f"the {server!r} server takes no option {name!r}{hint}; it takes: {listed}")
        try:
            options[key] = convert(value)
        except (ValueError, TypeError, LookupError) as exc:
            raise BadServerOption(f"the {server!r} server refuses {name}={value!r}: {exc}") from None
    return options


def boolean(text: str) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError("not a boolean: use true or false")


def _octal(text: str) -> int:
    return int(text, 8)


def converter(annotation: Any, named: Mapping[str, Callable[[str], Any]] | None = None) -> Callable[[str], Any] | None:
    """The converter for a parameter annotated ``annotation`` (a string or a type), or None if it has none."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    base = text.replace(" | None", "").replace("None | ", "").replace("Optional[", "").rstrip("]").strip()
    known: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": boolean, "str": str, **(named or {})}
    return known.get(base)


def _signature_table(adapter: ServerAdapter) -> tuple[dict[str, Callable[[str], Any]], bool]:
    """The adapter's keyword parameters (but host and port) with converters, and whether it takes ``**options``."""
    table: dict[str, Callable[[str], Any]] = {}
    open_ended = False
    for index, param in enumerate(inspect.signature(adapter).parameters.values()):
        if param.kind is param.VAR_KEYWORD:
            open_ended = True
        elif index and param.name not in ("host", "port") and param.kind is not param.VAR_POSITIONAL:
            table[param.name] = converter(param.annotation) or str
    return table, open_ended


def _signature_parser(server: str, adapter: ServerAdapter) -> OptionParser:
    """Options read from the adapter's signature; with ``**options``, any other name passes as a string."""
    table, open_ended = _signature_table(adapter)

    def parse(raw: Mapping[str, str]) -> dict[str, Any]:
        if not open_ended:
            return parse_options(server, table, raw)
        known = {key: value for key, value in raw.items() if key.replace("-", "_") in table}
        return {**{key.replace("-", "_"): value for key, value in raw.items()}, **parse_options(server, table, known)}

    return parse


def main_options(server: str) -> str:
    """The main options of ``server``, for ``microweb run --help``."""
    return MAIN_OPTIONS.get(server) or ", ".join(_signature_table(SERVERS[server])[0]) or "none"


def _check_free(host: str, port: int) -> None:
    """Fail in one line if ``host:port`` cannot be listened on, before a server that says so in a traceback."""
    import socket as sockets

    family = sockets.AF_INET6 if ":" in host else sockets.AF_INET
    try:
        with sockets.create_server((host.strip("[]"), port), family=family):
            pass
    except OSError as exc:  # create_server adds "(while attempting to bind on address ...)": the line has it
        reason = str(exc.strerror or exc).split(" (while attempting", 1)[0]
        raise SystemExit(f"microweb: cannot listen on {host}:{port}: {reason}") from None


def _announce(server: str, where: str) -> None:
    """The start-up line: what is served where, on stderr."""
    print(f" * microweb serving {where} with {server} (Ctrl+C to stop)", file=sys.stderr, flush=True)


def _http_url(app: WSGIApplication, host: str, port: int) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    return f"on http://{shown_host}:{port}{getattr(app, 'prefix', '')}/"


# ---------------------------------------------------------------- the path the app sees


def _request_path(environ: WSGIEnvironment) -> str | None:
    """The path of REQUEST_URI, decoded like PATH_INFO (bytes as latin-1), or None if unknown."""
    uri = environ.get("REQUEST_URI")
    if not uri:
        return None
    path = uri.split("?", 1)[0]
    if "://" in path:  # an absolute-form request target
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return unquote_to_bytes(path).decode("latin-1")


def fix_cgi_paths(environ: WSGIEnvironment) -> None:
    """Make SCRIPT_NAME the public mount point and PATH_INFO the rest, as servers disagree.

    Checked against the requested path (REQUEST_URI): IIS repeats SCRIPT_NAME
    in PATH_INFO, and behind a rewrite rule SCRIPT_NAME is the script's own
    location (``/cgi-bin/app.cgi``) instead of the URL the client used.
    """
    path = _request_path(environ)
    script = environ.get("SCRIPT_NAME", "")
    info = environ.get("PATH_INFO", "")
    if path is None or script + info == path:
        return
    if info == path and info.startswith(script):
        environ["PATH_INFO"] = info[len(script) :]
    elif path.endswith(info):  # PATH_INFO is right, SCRIPT_NAME is the script's file: take the URL's
        mount = path[: len(path) - len(info)]
        if not mount.endswith("/") and "//" not in mount and "/." not in mount:  # only a normalised one
            environ["SCRIPT_NAME"] = mount


class PrefixMiddleware:
    """Serve an app under ``prefix``: SCRIPT_NAME becomes the prefix, PATH_INFO the rest.

    Works on the whole path (SCRIPT_NAME + PATH_INFO), so it is right whether
    or not the server already split off the prefix. Paths outside the prefix
    get a plain 404 (``/apple`` is not under ``/app``).
    """

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Move the prefix into SCRIPT_NAME and call the app, or answer 404."""
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        prefix = self.prefix
        if path != prefix and not path.startswith(prefix + "/"):
            body = b"Not Found\n"
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        environ["SCRIPT_NAME"] = prefix
        environ["PATH_INFO"] = path[len(prefix) :]
        return self.app(environ, start_response)


def for_mod_python(app: WSGIApplication) -> WSGIApplication:
    """Wrap ``app`` for mod_python's WSGI handler (``PythonHandler mod_python.wsgi``).

    mod_python 3.5 (Debian 12's) drops the status given to ``start_response``,
    so every answer went out as 200, and hands over SCRIPT_NAME and PATH_INFO
    decoded as UTF-8 instead of WSGI's bytes-as-latin-1. Both are put right
    here; under any other server the wrapper changes nothing.
    """

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        req: Any = environ.get("wsgi.input")  # mod_python passes its request object as the input
        if not hasattr(req, "build_wsgi_env"):
            return app(environ, start_response)
        for key in ("SCRIPT_NAME", "PATH_INFO"):
            value = environ.get(key, "")
            if not value.isascii():
                environ[key] = value.encode("utf-8", "surrogateescape").decode("latin-1")

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            req.status = int(status[:3])
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


# ---------------------------------------------------------------- the reloader


def _app_dir(app: WSGIApplication) -> str:
    root = getattr(app, "root_path", None)
    return root if isinstance(root, str) else os.getcwd()


def _own_command() -> list[str]:
    """The command line that started this process, runnable again (``-m`` kept)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        name = spec.name.removesuffix(".__main__")
        return [sys.executable, "-m", name, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def run_with_reloader(watch: Iterable[str]) -> None:
    """Run this program again in a child process, restarted whenever a ``.py`` file under ``watch`` changes."""
    watchfiles = require("watchfiles", "reload")
    paths = sorted({os.path.abspath(path) for path in watch})
    print(f" * microweb reloader watching {', '.join(paths)}", file=sys.stderr, flush=True)
    os.environ[RELOADER_ENV] = "1"
    try:
        watchfiles.run_process(
            *paths,
            target=shlex.join(_own_command()),
            target_type="command",
            watch_filter=watchfiles.PythonFilter(),
            callback=lambda changes: print(" * microweb reloading: a source file changed", file=sys.stderr),
            debounce=300,
        )
    except KeyboardInterrupt:
        pass


# ---------------------------------------------------------------- the adapters


@register_server("wsgiref")
def serve_wsgiref(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False, timeout: float = 10.0
) -> None:
    """The development server (:mod:`microweb.devserver`, on wsgiref): one thread per connection.

    A client silent for ``timeout`` seconds, or that takes longer to send its
    request head, is dropped. ``quiet`` logs no request lines.
    """
    from .devserver import WARNING, DevServer

    try:
        httpd = DevServer((host, port), app, timeout=timeout, quiet=quiet)
    except OSError as exc:  # port taken, or an address this machine does not have
        raise SystemExit(f"microweb: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with httpd:
        shown_host = f"[{host}]" if ":" in host else host
        print(WARNING, file=sys.stderr)
        print(
            f" * microweb serving on http://{shown_host}:{httpd.server_port}{getattr(app, 'prefix', '')}/"
            " (Ctrl+C to stop)",
            file=sys.stderr,
            flush=True,
        )
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


class _CGIInput:
    """The CGI request body: at most CONTENT_LENGTH bytes, and the rest drained at the end.

    A CGI script that exits with part of its body unread makes Apache's
    mod_cgid reset the connection and the response is cut off (a 405 or 404
    to a POST, for example), so whatever the app left unread is read first.
    """

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left if negative or None)."""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(size) if size else b""
        self.left -= len(data)
        if size and not data:
            self.left = 0  # the server sent less than it announced
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, at most ``size`` bytes."""
        size = self.left if size is None or size < 0 else min(size, self.left)
        line = self.stream.readline(size) if size else b""
        self.left -= len(line)
        return line

    def readlines(self, hint: int = -1) -> list[bytes]:
        """All the lines left."""
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self) -> None:
        """Read and drop what the app did not read."""
        for _ in range(self.left // 65536 + 2):
            if not self.left or not self.read(65536):
                return


@register_server("cgi")
def serve_cgi(app: WSGIApplication, **_ignored: Any) -> None:
    """Answer the one request of this CGI process (the web server runs the script per request)."""
    from wsgiref.handlers import CGIHandler

    if "REQUEST_METHOD" not in os.environ:  # started by hand: CGIHandler would fail with a KeyError
        raise NotACGIRequest(
            "no CGI request here (REQUEST_METHOD is not set): a web server must run this as a CGI script; "
            "to serve the app yourself, use 'microweb run MODULE:APP'"
        )

    def normalised(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        fix_cgi_paths(environ)
        return app(environ, start_response)

    try:
        length = max(0, int(os.environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    handler = CGIHandler()
    body = _CGIInput(sys.stdin.buffer, length)
    handler.stdin = body
    handler.run(normalised)
    body.drain()


#: What flup's servers take besides the address: its thread pool's sizes, and the socket's umask.
_FLUP_OPTIONS: dict[str, Callable[[str], Any]] = {
    "socket": str,
    "umask": _octal,
    "maxThreads": int,
    "minSpare": int,
    "maxSpare": int,
}
_FLUP_MAIN = "umask (octal, with --socket), maxThreads, minSpare, maxSpare"


def _flup_options(server: str) -> OptionParser:
    return lambda raw: parse_options(server, _FLUP_OPTIONS, raw)


def _serve_flup(
    protocol: str, app: WSGIApplication, host: str, port: int, socket: str | None, umask: int | None, **options: Any
) -> None:
    server = require(f"flup.server.{protocol}", "fastcgi")
    options.setdefault("debug", False)  # never show tracebacks to clients
    bind = socket if socket else (host, port)
    where = f"unix socket {socket}" if socket else f"{host}:{port}"
    _announce("flup", f"{'FastCGI' if protocol == 'fcgi' else 'SCGI'} on {where} to the web server in front")
    server.WSGIServer(app, bindAddress=bind, umask=umask, **options).run()


@register_server("fastcgi", options=_flup_options("fastcgi"), main=_FLUP_MAIN)
def serve_fastcgi(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 8000,
    socket: str | None = None,
    umask: int | None = None,
    **options: Any,
) -> None:
    """A FastCGI backend (flup) on TCP ``host:port`` or on the unix ``socket`` path."""
    _serve_flup("fcgi", app, host, port, socket, umask, **options)


@register_server("scgi", options=_flup_options("scgi"), main=_FLUP_MAIN)
def serve_scgi(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 8000,
    socket: str | None = None,
    umask: int | None = None,
    **options: Any,
) -> None:
    """An SCGI backend (flup) on TCP ``host:port`` or on the unix ``socket`` path."""
    _serve_flup("scgi", app, host, port, socket, umask, **options)


def _waitress_options(raw: Mapping[str, str]) -> dict[str, Any]:
    adjustments = require("waitress.adjustments", "waitress").Adjustments
    # Where to listen comes from --host/--port; the rest are waitress' own adjustments, with its converters.
    fixed = ("host", "port", "listen", "sockets")
    table = {name: convert for name, convert in adjustments._params if name not in fixed}
    return parse_options("waitress", table, raw)


@register_server(
    "waitress",
    options=_waitress_options,
    main="threads, connection_limit, channel_timeout, url_scheme, trusted_proxy; any waitress adjustment",
)
def serve_waitress(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """waitress, a production server in pure Python (``threads=4`` by default)."""
    import logging

    waitress = require("waitress", "waitress")
    logging.basicConfig()  # as waitress.serve does: its warnings and the app's errors reach stderr
    try:
        server = waitress.create_server(app, host=host, port=port, **options)
    except OSError as exc:
        raise SystemExit(f"microweb: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    _announce("waitress", _http_url(app, host, getattr(server, "effective_port", port)))
    server.run()


def _gunicorn_options(raw: Mapping[str, str]) -> dict[str, Any]:
    config = require("gunicorn.config", "gunicorn").Config()

    def setting(name: str) -> Callable[[str], Any]:
        def convert(value: str) -> Any:
            config.set(name, value)  # gunicorn's own validator
            return config.settings[name].get()

        return convert

    table = {name: setting(name) for name in config.settings if name != "bind"}
    takes = f"any of gunicorn's {len(table)} settings (gunicorn --help), e.g. {_GUNICORN_MAIN}"
    return parse_options("gunicorn", table, raw, takes=takes)


_GUNICORN_MAIN = "workers, threads, worker_class, timeout, graceful_timeout, max_requests"


@register_server("gunicorn", options=_gunicorn_options, main=f"{_GUNICORN_MAIN}; any gunicorn setting")
def serve_gunicorn(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """gunicorn, pre-forking (POSIX only); options are its settings, e.g. ``workers=2, worker_class="gthread"``."""
    base = require("gunicorn.app.base", "gunicorn")
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _check_free(host, port)  # gunicorn would retry for 5 s and log a line per try
    url = _http_url(app, host, port)

    def load_config(self: Any) -> None:
        self.cfg.set("bind", [bind])
        self.cfg.set("when_ready", lambda arbiter: _announce("gunicorn", url))  # once the master listens
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self: Any) -> WSGIApplication:
        return app

    # Built with type(): gunicorn has no type hints to subclass under mypy --strict.
    server = type("MicrowebGunicorn", (base.BaseApplication,), {"load_config": load_config, "load": load})
    server().run()


#: Granian() arguments that microweb sets itself, or that do not work for a WSGI app passed as an object.
_GRANIAN_FIXED = {"target", "address", "port", "interface", "factory", "working_dir", "url_path_prefix"}


def _choice(kind: Any) -> Callable[[str], Any]:
    """A converter to a member of the enum ``kind``, by value."""

    def convert(value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"use one of {', '.join(str(member.value) for member in kind)}") from None

    return convert


def _granian_options(raw: Mapping[str, str]) -> dict[str, Any]:
    granian = require("granian", "granian")
    constants = require("granian.constants", "granian")
    log = require("granian.log", "granian")
    from pathlib import Path

    enums = [getattr(constants, name) for name in ("HTTPModes", "Loops", "RuntimeModes", "SSLProtocols", "TaskImpl")]
    named: dict[str, Callable[[str], Any]] = {kind.__name__: _choice(kind) for kind in [*enums, log.LogLevels]}
    named["Path"] = Path
    table: dict[str, Callable[[str], Any]] = {}
    for param in list(inspect.signature(granian.Granian.__init__).parameters.values())[1:]:
        convert = converter(param.annotation, named)
        if convert is not None and param.name not in _GRANIAN_FIXED and not param.name.startswith("reload"):
            table[param.name] = convert
    return parse_options("granian", table, raw, aliases={"threads": "blocking_threads"})


@register_server(
    "granian",
    options=_granian_options,
    main="workers, threads (its blocking_threads), backlog, http, workers_kill_timeout; any Granian() argument",
)
def serve_granian(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Granian, a server written in Rust, through its WSGI interface; ``workers`` are processes (POSIX: forked)."""
    granian = require("granian", "granian")
    interfaces = require("granian.constants", "granian").Interfaces
    if "threads" in options:
        options["blocking_threads"] = options.pop("threads")
    server = granian.Granian("microweb", address=host, port=port, interface=interfaces.WSGI, **options)
    _check_free(host, port)  # Granian's own failure is a RuntimeError traceback
    _announce("granian", _http_url(app, host, port))
    # The app object itself, not an import string: each forked worker already has it in memory.
    server.serve(target_loader=lambda target: app)
