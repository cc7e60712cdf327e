"""The application object: URL rules to views, and a request's way through them.

A request goes: ``App.__call__`` -> ``wsgi_app`` -> ``_handle`` (match, before
hooks, view) -> ``make_response`` / after hooks -> ``_finish`` (resources,
teardown) -> back to the server.
"""

from __future__ import annotations

import html
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    NotFound,
    RequestEntityTooLarge,
    SecurityError,
)
from werkzeug.routing import MapAdapter, RequestRedirect, Rule
from werkzeug.security import safe_join
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

from .context import (
    Resource,
    _check_headers,
    _current,
    _describe,
    _encode_unsafe_in_url,
    _header_problem,
    _RequestContext,
    _StreamingBody,
    logger,
)
from .routing import RouteIndex, RuleMap
from .sessions import SessionCookie
from .wrappers import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .testing import TestClient

__all__ = ["App"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
ErrorHandler = Callable[[Any], Any]

HTML = "text/html; charset=utf-8"
JSON = "application/json"
# A response as its parts (status line, headers without Content-Length, body), for the fast path.
_Plain = tuple[str, list[tuple[str, str]], bytes]


# made once: json.dumps() with options would make an encoder per call
_json_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ascii_json_encoder = json.JSONEncoder(separators=(",", ":"))


def _dump_json(value: Any) -> bytes:
    try:
        return _json_encoder.encode(value).encode()
    except UnicodeEncodeError:
        # A lone surrogate (JSON's "\ud800", which json.loads accepts) is not UTF-8: escape it as JSON does.
        return _ascii_json_encoder.encode(value).encode()


def _simple_body(rv: object) -> tuple[bytes, str] | None:
    """The bytes and Content-Type of a str, bytes, dict or list view result."""
    if isinstance(rv, str):
        return rv.encode(), HTML
    if isinstance(rv, bytes):
        return rv, HTML
    if isinstance(rv, (dict, list)):
        return _dump_json(rv), JSON
    return None


# ---------------------------------------------------------------- the app


class App:
    """A WSGI application: URL rules mapped to view functions, with hooks around them.

    :param import_name: the module the app lives in (``__name__``); relative
        ``static_folder`` paths are taken from that module's directory.
    :param debug: show tracebacks on 500 pages (never in production).
    :param secret_key: signs the session cookie; a list rotates keys (the
        last one signs, all of them verify).
    :param max_content_length: larger request bodies get a 413.
    :param static_folder: serve this folder's files at ``static_url_path``.
    :param templates: the renderer ``render()`` calls: ``(name, context) -> str``.
    :param auto_options: answer ``OPTIONS`` with the allowed methods.
    """

    request_class = Request
    response_class = Response

    def __init__(
        self,
        import_name: str = "__main__",
        *,
        debug: bool = False,
        secret_key: str | bytes | list[str | bytes] | None = None,
        max_content_length: int | None = None,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str = "/static",
        templates: Callable[[str, dict[str, Any]], str] | None = None,
        auto_options: bool = True,
    ) -> None:
        self.import_name = import_name
        self.root_path = _module_dir(import_name)
        self.config: dict[str, Any] = {
            "DEBUG": debug,
            "SECRET_KEY": secret_key,
            "MAX_CONTENT_LENGTH": max_content_length,
            "MAX_FORM_MEMORY_SIZE": 500_000,
            "MAX_FORM_PARTS": 1_000,
            "SERVER_NAME": "localhost",
            "TRUSTED_HOSTS": None,
            "PREFERRED_URL_SCHEME": "http",
            "SESSION_COOKIE_NAME": "session",
            "SESSION_COOKIE_SECURE": False,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_PATH": None,
            "SESSION_MAX_AGE": 14 * 24 * 3600,
        }
        if secret_key is not None:
            SessionCookie.check_key(secret_key)
        self.templates = templates
        self.auto_options = auto_options
        self.url_map = RuleMap(strict_slashes=True, merge_slashes=True)
        self.view_functions: dict[str, Callable[..., Any]] = {}
        self.before_request_funcs: list[Callable[[], Any]] = []
        self.after_request_funcs: list[Callable[[Response], Response]] = []
        self.teardown_request_funcs: list[Callable[[BaseException | None], Any]] = []
        self.error_handlers: dict[int | type[BaseException], ErrorHandler] = {}
        self.wsgi_app: WSGIApplication = self._wsgi_app
        # Precomputed at registration so a request does as little as possible:
        self._routes: RouteIndex | None = None
        self._standard_pages: dict[type[HTTPException], bytes] = {}
        self._explicit_head: dict[str, str] = {}  # rule -> endpoint of a view registered for HEAD
        self._no_auto_options: set[str] = set()
        self._adapters: dict[tuple[Any, ...], MapAdapter] = {}
        self._mounts: list[tuple[str, WSGIApplication]] = []
        self._session_cookie: SessionCookie | None = None
        self.static_folder: str | None = None
        if static_folder is not None:
            self.static_folder = os.path.join(self.root_path, os.fspath(static_folder))
            self.add_route(static_url_path.rstrip("/") + "/<path:filename>", self._send_static, endpoint="static")

    @property
    def debug(self) -> bool:
        """Whether 500 pages show tracebacks (``config["DEBUG"]``)."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value

    # ------------------------------------------------------------ registration

    def add_route(
        self,
        rule: str,
        view_func: Callable[..., Any],
        methods: Iterable[str] | None = None,
        endpoint: str | None = None,
        *,
        auto_options: bool | None = None,
        **rule_options: Any,
    ) -> None:
        """Map ``rule`` (Werkzeug rule syntax) to ``view_func``.

        ``endpoint`` defaults to the function's name; ``rule_options`` go to
        Werkzeug's ``Rule`` (``defaults``, ``strict_slashes``, ...).
        """
        endpoint = endpoint or view_func.__name__
        existing = self.view_functions.get(endpoint)
        if existing is not None and existing is not view_func:
            raise ValueError(
                f"Endpoint {endpoint!r} already belongs to {existing.__qualname__}; "
                f"give {view_func.__qualname__} another name with endpoint=..."
            )
        asked = {m.upper() for m in (methods or ("GET",))}
        provide_options = (self.auto_options if auto_options is None else auto_options) and "OPTIONS" not in asked
        url_rule = Rule(
            rule, methods=asked | ({"OPTIONS"} if provide_options else set()), endpoint=endpoint, **rule_options
        )
        self.url_map.add(url_rule)
        self.view_functions[endpoint] = view_func
        if not provide_options:
            self._no_auto_options.add(endpoint)
        if "HEAD" in asked:
            self._explicit_head[rule] = endpoint

    def route(self, rule: str, methods: Iterable[str] | None = None, **options: Any) -> Callable[[F], F]:
        """Decorator form of :meth:`add_route`."""

        def decorator(view_func: F) -> F:
            self.add_route(rule, view_func, methods, **options)
            return view_func

        return decorator

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["GET"])``."""
        return self.route(rule, ["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["POST"])``."""
        return self.route(rule, ["POST"], **options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PUT"])``."""
        return self.route(rule, ["PUT"], **options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PATCH"])``."""
        return self.route(rule, ["PATCH"], **options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["DELETE"])``."""
        return self.route(rule, ["DELETE"], **options)

    def before_request(self, func: F) -> F:
        """Run ``func()`` before each view; a non-None return value is the response."""
        self.before_request_funcs.append(func)
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(response)`` after each view; it returns the response to send."""
        self.after_request_funcs.append(func)
        return func

    def teardown_request(self, func: F) -> F:
        """Run ``func(error_or_None)`` at the end of every request, whatever happened."""
        self.teardown_request_funcs.append(func)
        return func

    def errorhandler(self, code_or_exception: int | type[BaseException]) -> Callable[[F], F]:
        """Handle an HTTP status code or an exception class (the closest class in the MRO wins)."""

        def decorator(func: F) -> F:
            self.error_handlers[code_or_exception] = func
            return func

        return decorator

    def resource(self, factory: Callable[[], Iterator[T]]) -> Resource[T]:
        """Turn a generator function into a request-scoped resource.

        Calling the result in a request gives what the generator yielded,
        opened on first use. When the request ends the generator resumes
        (code after ``yield`` runs: commit), or gets the request's exception
        thrown in (``except``: roll back); ``finally`` always runs.
        """
        return Resource(factory)

    def mount(self, prefix: str, wsgi_app: WSGIApplication) -> None:
        """Send requests under ``prefix`` to another WSGI app, moving the prefix to SCRIPT_NAME."""
        prefix = "/" + prefix.strip("/")
        self._mounts.append((prefix, wsgi_app))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    # ------------------------------------------------------------ URLs

    def url_for(self, endpoint: str, /, *, _external: bool = False, _anchor: str | None = None, **values: Any) -> str:
        """Build the URL of ``endpoint``; extra values become the query string.

        In a request the URL includes the request's SCRIPT_NAME (the app's mount
        point); outside one it is built for ``config["SERVER_NAME"]``.
        """
        try:
            ctx = _current.get()
            adapter = ctx.adapter or self._adapter(ctx.environ)
        except LookupError:
            adapter = self.url_map.bind(self.config["SERVER_NAME"], url_scheme=self.config["PREFERRED_URL_SCHEME"])
        url = adapter.build(endpoint, values, force_external=_external)
        return f"{url}#{_anchor}" if _anchor else url

    def _adapter(self, environ: WSGIEnvironment) -> MapAdapter:
        """A MapAdapter for the request's host, mount point and scheme, bound once and reused."""
        key = (environ.get("HTTP_HOST"), environ.get("SCRIPT_NAME", ""), environ["wsgi.url_scheme"])
        adapter = self._adapters.get(key)
        if adapter is None:
            if len(self._adapters) > 64:  # Host headers come from clients: stay bounded
                self._adapters.clear()
            script_name = environ.get("SCRIPT_NAME", "").encode("latin-1").decode("utf-8", "replace")
            adapter = self._adapters[key] = self.url_map.bind(get_host(environ), script_name or "/", url_scheme=key[2])
        return adapter

    # ------------------------------------------------------------ the WSGI side

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The PEP 3333 entry point; calls :attr:`wsgi_app`, which middleware may wrap."""
        return self.wsgi_app(environ, start_response)

    def _wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._mounts:
            mounted = self._mounted(environ)
            if mounted is not None:
                return mounted(environ, start_response)
        ctx = _RequestContext(self, environ)
        token = _current.set(ctx)
        try:
            rv = self._handle(ctx)
            if isinstance(rv, tuple):
                # Fast path: a simple value or a standard error page, sent without a Response object.
                status, headers, data = rv
                failed = self._finish(ctx)
                if failed is None:
                    headers.append(("Content-Length", str(len(data))))
                    start_response(status, headers)
                    return () if environ["REQUEST_METHOD"] == "HEAD" else (data,)
                rv = failed
            elif rv.is_streamed and environ["REQUEST_METHOD"] != "HEAD":
                # Keep the request alive until the server closes the body (PEP 3333).
                start_response(rv.status, rv.get_wsgi_headers(environ).to_wsgi_list())
                return _StreamingBody(ctx, rv.get_app_iter(environ))
            else:
                rv = self._finish(ctx, rv) or rv
            return rv(environ, start_response)
        except BaseException as exc:
            # SystemExit (a gunicorn sync worker's timeout), KeyboardInterrupt: not for a 500 page, they go
            # on to the server, but the resources and teardown hooks still get to end the request.
            if not ctx.closed:
                ctx.error = exc
                self._finish(ctx)
            raise
        finally:
            _current.reset(token)

    def _mounted(self, environ: WSGIEnvironment) -> WSGIApplication | None:
        path = environ.get("PATH_INFO", "")
        for prefix, wsgi_app in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix) :]
                trusted_hosts = self.config["TRUSTED_HOSTS"]
                try:
                    if trusted_hosts:  # as for the app's own routes (_dispatch)
                        get_host(environ, trusted_hosts)
                except SecurityError as exc:
                    # An HTTPException is a WSGI app (Werkzeug's 400 page); without its traceback,
                    # which would hold this frame and so the exception itself in a cycle.
                    return exc.with_traceback(None)
                return wsgi_app
        return None

    def _handle(self, ctx: _RequestContext) -> Response | _Plain:
        """Match, run the before hooks and the view: a Response, or plain parts for the fast path."""
        try:
            rv = self._dispatch(ctx)
            if not self.after_request_funcs:  # nothing needs a Response object
                simple = _simple_body(rv)
                if simple is not None:
                    headers = [("Content-Type", simple[1])]
                    if ctx._session is not None:
                        headers += self.session_cookie.headers(ctx._session, ctx.environ)
                    return "200 OK", headers, simple[0]
            return self._process_response(ctx, self.make_response(rv))
        except Exception as exc:
            return self._handle_exception(ctx, exc)

    def _dispatch(self, ctx: _RequestContext) -> Any:
        environ = ctx.environ
        trusted_hosts = self.config["TRUSTED_HOSTS"]
        if trusted_hosts:  # any other Host is Werkzeug's SecurityError, a 400, before anything uses it
            get_host(environ, trusted_hosts)
        self._check_content_length(environ)
        self._match(ctx)
        for before in self.before_request_funcs:
            rv = before()
            if rv is not None:
                return rv
        if ctx.routing_error is not None:
            raise ctx.routing_error
        if environ["REQUEST_METHOD"] == "OPTIONS" and ctx.endpoint not in self._no_auto_options:
            allowed = self._adapter(environ).allowed_methods(_path_info(environ))
            return self.response_class(status=200, headers={"Allow": ", ".join(sorted(allowed))})
        return self.view_functions[cast(str, ctx.endpoint)](**ctx.view_args)

    def _check_content_length(self, environ: WSGIEnvironment) -> None:
        """Refuse a body over MAX_CONTENT_LENGTH before anything reads it."""
        limit = self.config["MAX_CONTENT_LENGTH"]
        length = environ.get("CONTENT_LENGTH")
        if limit is None or not length:
            return
        try:
            too_large = int(length) > limit
        except ValueError:
            raise BadRequest("The Content-Length header is not a number.") from None
        if too_large:
            raise RequestEntityTooLarge(f"The request body is larger than the limit of {limit} bytes.")

    def _match(self, ctx: _RequestContext) -> None:
        """Find the endpoint: the route index for fixed paths and simple shapes, else Werkzeug's matcher."""
        environ = ctx.environ
        method = environ["REQUEST_METHOD"]
        path = _path_info(environ)
        routes = self._routes
        if routes is None or routes.version != self.url_map.version:
            routes = self._routes = RouteIndex(self.url_map, self._explicit_head)
        static = routes.static.get(path)
        if static is not None and method in static:
            ctx.endpoint = static[method]
            return
        found: tuple[Rule, Mapping[str, Any]] | None = routes.match(path, method) if static is None else None
        if found is None:
            try:
                adapter = ctx.adapter = self._adapter(environ)
                found = adapter.match(path, method, return_rule=True, query_args=environ.get("QUERY_STRING", ""))
            except HTTPException as exc:
                ctx.routing_error = exc
                return
        rule, view_args = found
        ctx.view_args = dict(view_args)
        ctx.endpoint = cast(str, rule.endpoint)
        if method == "HEAD" and rule.rule in self._explicit_head:
            ctx.endpoint = self._explicit_head[rule.rule]

    def make_response(self, rv: Any) -> Response:
        """Turn a view's return value into a Response: the one place that does so."""
        rv, status, headers = _unpack(rv)
        if isinstance(rv, Response):
            response = rv
        elif isinstance(rv, HTTPException):
            response = rv.get_response(_current.get().environ)
        elif rv is None:
            raise TypeError(
                f"The view {_current.get().endpoint!r} returned None; "
                "return a str, bytes, dict, list, iterator or Response."
            )
        else:
            simple = _simple_body(rv)
            if simple is not None:
                response = self.response_class(simple[0], content_type=simple[1])
            elif isinstance(rv, Iterable):
                response = self.response_class(rv, content_type=HTML)
            else:
                raise TypeError(f"A view returned {type(rv).__name__}, which is not a response body.")
        if status is not None:
            response.status_code = status
        if headers:
            # Checked first: Werkzeug refuses a CR or LF too, but without saying in which header.
            pairs = headers.items() if hasattr(headers, "items") else headers
            _check_headers(response.status, [(str(name), str(value)) for name, value in pairs])
            response.headers.update(headers)
        if response.status_code == 204:  # no content, so no content type (PEP 3333 validators insist)
            del response.headers["Content-Type"]
        return response

    def _process_response(self, ctx: _RequestContext, response: Response) -> Response:
        for after in self.after_request_funcs:
            response = after(response)
        if ctx._session is not None:
            self.session_cookie.save(ctx._session, response, ctx.environ)
        # The last moment anything can be done about a header that could inject: refused, it becomes a 500.
        _check_headers(response.status, response.headers.items())
        return response

    # ------------------------------------------------------------ errors

    def _handle_exception(self, ctx: _RequestContext, exc: Exception) -> Response | _Plain:
        """The response for an exception from matching, a hook or the view."""
        ctx.error = exc
        handler = self._error_handler(exc)
        if handler is None and isinstance(exc, HTTPException) and not self.after_request_funcs and ctx._session is None:
            page = self._standard_page(exc, ctx.environ)
            if page is not None:
                return page
        if handler is None and not isinstance(exc, HTTPException):
            logger.error("Exception on %s", _describe(ctx), exc_info=exc)
            exc = InternalServerError(original_exception=exc)
            handler = self._error_handler(exc)
        try:
            if handler is not None:
                response = self.make_response(handler(exc))
            else:
                response = self._error_page(cast(HTTPException, exc))
            return self._process_response(ctx, response)
        except Exception as handler_exc:
            logger.error("Exception while handling an error on %s", _describe(ctx), exc_info=handler_exc)
            return self._error_page(InternalServerError(original_exception=handler_exc))

    def _error_handler(self, exc: BaseException) -> ErrorHandler | None:
        handlers = self.error_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException) and exc.code in handlers:
            return handlers[exc.code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None

    def _error_page(self, exc: HTTPException) -> Response:
        """The built-in page for an HTTP error: HTML, or JSON for clients that prefer it."""
        environ = _current.get().environ
        if isinstance(exc, InternalServerError) and self.debug and exc.original_exception is not None:
            trace = "".join(traceback.format_exception(exc.original_exception))
            page = (
                "<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
                f"<pre>{html.escape(trace)}</pre>\n"
            )
            return self.response_class(page, 500, content_type=HTML)
        _check_headers(str(exc.code), exc.get_headers(environ))  # before Werkzeug's check, which names no header
        if isinstance(exc, RequestRedirect):  # to the slash-fixed path, with the client's raw query string
            exc.new_url = _encode_unsafe_in_url(exc.new_url)
        if _may_want_json(environ) and _prefers_json(_current.get().request):
            response = exc.get_response(environ)
            response.set_data(
                _dump_json({"error": {"code": exc.code, "name": exc.name, "description": exc.description}})
            )
            response.content_type = JSON
            return response
        return exc.get_response(environ)

    def _standard_page(self, exc: HTTPException, environ: WSGIEnvironment) -> _Plain | None:
        """A standard HTML error page (404, 405, ...) as plain parts; its body is made once per class."""
        cls = type(exc)
        if exc.description != cls.description or cls.get_response is not HTTPException.get_response:
            return None  # a page of its own (a description, a redirect): Werkzeug builds it
        if exc.response is not None or _may_want_json(environ):
            return None
        status, headers = f"{exc.code} {exc.name.upper()}", exc.get_headers(environ)
        if _header_problem(status, headers) is not None:
            return None  # e.g. a WWW-Authenticate realm with CR/LF: refused, and logged, the slow way
        body = self._standard_pages.get(cls)
        if body is None:
            body = self._standard_pages[cls] = exc.get_body(environ).encode()
        return status, headers, body

    # ------------------------------------------------------------ the end of a request

    def _finish(self, ctx: _RequestContext, response: Response | None = None) -> Response | None:
        """Finalize resources (commit or roll back), then run the teardown hooks.

        Returns an error response if finalizing failed (a commit that did not
        happen must not be reported as a success), else None.
        """
        failed = None
        failure = self._close_resources(ctx) if ctx.resources else None
        if failure is not None:
            failed = self._error_page(InternalServerError(original_exception=failure))
            if response is not None:
                response.close()
        ctx.closed = True
        for teardown in self.teardown_request_funcs:
            try:
                teardown(ctx.error)
            except Exception as exc:
                logger.error("Exception in teardown hook %r on %s", teardown, _describe(ctx), exc_info=exc)
        if ctx._request is not None:
            ctx._request.close()  # uploaded files: closed now, not whenever the garbage collector runs
            ctx.environ["werkzeug.request"] = None  # environ <-> request is a cycle
        # So is error -> traceback -> frames -> ctx. Without cycles, a request's memory is freed
        # as it ends instead of waiting for the cycle collector (which lets RSS creep up meanwhile).
        ctx.error = ctx.routing_error = None
        return failed

    def _close_resources(self, ctx: _RequestContext) -> Exception | None:
        """Commit or roll back the opened resources, once; the exception (logged) if that failed.

        A streamed body does this when its last chunk has been produced (see
        ``_StreamingBody``), so by its teardown there is nothing left to do.
        """
        if ctx.closed:
            return None
        failure = None
        try:
            self._finish_resources(ctx)
        except Exception as exc:
            if ctx.error is None:
                ctx.error = exc
            logger.error("Exception while closing the resources of %s", _describe(ctx), exc_info=exc)
            failure = exc
        ctx.closed = True
        return failure

    def _finish_resources(self, ctx: _RequestContext) -> None:
        assert ctx.resources is not None
        first_error: Exception | None = None
        for resource, (gen, _value) in reversed(list(ctx.resources.items())):
            try:
                resource.finish(gen, ctx.error)
            except Exception as exc:
                first_error = first_error or exc
                ctx.error = ctx.error or exc  # the resources still open roll back
        if first_error is not None:
            raise first_error

    # ------------------------------------------------------------ sessions, static files, tools

    @property
    def session_cookie(self) -> SessionCookie:
        """The signer and cookie settings behind :data:`session`."""
        key = self.config["SECRET_KEY"]
        if key is None:
            raise RuntimeError("The session needs a secret key: create the app with App(secret_key=...).")
        cookie = self._session_cookie
        if cookie is None or cookie.secret_key is not key:
            cookie = self._session_cookie = SessionCookie(key, self.config)
        return cookie

    def _send_static(self, filename: str) -> Response:
        folder = cast(str, self.static_folder)
        path = safe_join(folder, filename) if "\x00" not in filename else None
        # safe_join stops "..", absolute paths and the like; a symlink could still lead out.
        if path is None or not os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep):
            raise NotFound()
        return send_from_directory(folder, filename, _current.get().environ)

    def test_client(self, **kwargs: Any) -> TestClient:
        """A Werkzeug test client for this app (``.get()``, ``.post(json=...)``, cookies kept)."""
        from .testing import TestClient

        return TestClient(self, **kwargs)

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        debug: bool | None = None,
        server: str = "wsgiref",
        *,
        allow_remote_debug: bool = False,
        **options: Any,
    ) -> None:
        """Serve the app (by default on the threaded wsgiref dev server) until interrupted.

        In debug mode, a ``host`` other than loopback (127.0.0.0/8, ::1,
        ``localhost``) raises :class:`~microweb.serving.UnsafeDebugHost`
        unless ``allow_remote_debug=True``.
        """
        from .serving import run

        if debug is not None:
            self.debug = debug
        run(self, server=server, host=host, port=port, allow_remote_debug=allow_remote_debug, **options)


def _unpack(rv: Any) -> tuple[Any, int | None, Any]:
    """Split ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``."""
    if not isinstance(rv, tuple):
        return rv, None, None
    if len(rv) == 3:
        return rv[0], rv[1], rv[2]
    if len(rv) == 2:
        return (rv[0], rv[1], None) if isinstance(rv[1], int) else (rv[0], None, rv[1])
    raise TypeError(f"A view returned a tuple of {len(rv)} items; use (body, status, headers).")


def _path_info(environ: WSGIEnvironment) -> str:
    path: str = environ.get("PATH_INFO") or "/"
    if not path.isascii():  # WSGI hands over bytes as latin-1: undo that for UTF-8 URLs
        path = path.encode("latin-1").decode("utf-8", "replace")
    return path


def _may_want_json(environ: WSGIEnvironment) -> bool:
    """False when the Accept header surely does not prefer JSON, so there is no need to parse it."""
    accept: str = environ.get("HTTP_ACCEPT", "")
    return "json" in accept or "application/*" in accept


def _prefers_json(req: Request) -> bool:
    return req.accept_mimetypes.best_match(("text/html", JSON)) == JSON


def _module_dir(import_name: str) -> str:
    module = sys.modules.get(import_name)
    filename = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(filename)) if filename else os.getcwd()
