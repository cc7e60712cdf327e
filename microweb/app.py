"""The application object: URL rules mapped to views, and a request's way through them.

A request goes ``__call__`` -> :meth:`App.wsgi_app` -> :meth:`App.full_dispatch_request`
(``preprocess_request``: host, length, ``match_request``, before hooks;
``dispatch_request``: the view; ``finalize_request``: ``make_response``,
``process_response``) -> :meth:`App.end_request` -> the response's ``__call__``.
The docs' "How a request flows" numbers every step.
"""

from __future__ import annotations

import difflib
import functools
import html
import json
import logging
import os
import re
import sys
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import GeneratorType
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect, Rule
from werkzeug.wrappers import Response as BaseResponse
from werkzeug.wsgi import get_host

from ._werkzeug import status_code_of
from .blueprints import Blueprint, join_paths
from .config import SETTING_CHECKS, Config, RequestSettings
from .ctx import NO_BUILDERS, G, RequestContext, StreamedBody, context_var, current_context
from .helpers import send_from_directory
from .http import (
    check_headers,
    check_trusted_host,
    is_loopback,
    normalise_prefix,
    parse_content_length,
    quote_unsafe_in_url,
    refused,
    split_prefix,
    wsgi_decoded,
)
from .resources import Resource
from .routing import RouteIndex, RuleMap, RuleMapAdapter
from .scaffold import HookChain, Scaffold
from .sessions import SessionCookie
from .wrappers import HTML, JSON, Request, Response, checked_response, fast_json, is_streamed

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .testing import TestClient

__all__ = ["App"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
ErrorHandler = Callable[[Any], Any]

_get_response = HTTPException.get_response  # an exception class that overrides it builds its own page

# made once: json.dumps() with options would make an encoder per call
_json_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ascii_json_encoder = json.JSONEncoder(separators=(",", ":"))


def dump_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, the body of a dict or list view result."""
    data = fast_json(value)  # orjson, when installed and exact for this value
    if data is not None:
        return data
    try:
        return _json_encoder.encode(value).encode()
    except UnicodeEncodeError:
        # A lone surrogate (JSON's "\ud800", which json.loads accepts) is not UTF-8: escape it as JSON does.
        return _ascii_json_encoder.encode(value).encode()


# ---------------------------------------------------------------- the app


class App(Scaffold):
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

    #: The class of ``request`` (a subclass of Werkzeug's Request).
    request_class: type[Request] = Request
    #: The class :meth:`make_response` makes responses of.
    response_class: type[Response] = Response
    #: The class of ``g``, one instance per request.
    g_class: type[G] = G

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
        super().__init__()
        self.import_name = import_name
        self.root_path = _module_dir(import_name)
        defaults = {
            "DEBUG": debug,
            "DEBUG_REMOTE": False,
            "SECRET_KEY": secret_key,
            "MAX_CONTENT_LENGTH": max_content_length,
            "MAX_FORM_MEMORY_SIZE": 500_000,
            "MAX_FORM_PARTS": 1_000,
            "STATIC_DOTFILES": False,
            "SERVER_NAME": "localhost",
            "TRUSTED_HOSTS": None,
            "PREFERRED_URL_SCHEME": "http",
            "SESSION_COOKIE_NAME": "session",
            "SESSION_COOKIE_SECURE": False,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_PATH": None,
            "SESSION_MAX_AGE": 14 * 24 * 3600,
            "SEND_FILE_MAX_AGE_DEFAULT": None,
        }
        #: The settings (a :class:`~microweb.config.Config`): checked as they are set, read on every request.
        self.config = Config(self.root_path, defaults, settings=defaults, checks=SETTING_CHECKS)
        #: The settings each request reads, made again from :attr:`config` when it has changed.
        self.request_settings = RequestSettings(self.config)
        #: The app's logger: ``microweb.<import_name>``, or ``microweb`` itself for an app in ``__main__``.
        self.logger = logging.getLogger("microweb" if import_name == "__main__" else f"microweb.{import_name}")
        self.templates = templates
        self.auto_options = auto_options
        self.url_map = RuleMap(strict_slashes=True, merge_slashes=True)
        self.view_functions: dict[str, Callable[..., Any]] = {}
        #: The registered blueprints, by dotted name (``"api.v1"``).
        self.blueprints: dict[str, Blueprint] = {}
        #: The dotted name of the blueprint each blueprint endpoint belongs to.
        self.endpoint_blueprints: dict[str, str] = {}
        # The scopes whose hooks and error handlers apply, innermost first, by blueprint (None: the app's own).
        self._scopes: dict[str | None, tuple[Scaffold, ...]] = {None: (self,)}
        #: The :class:`~microweb.scaffold.HookChain` of each endpoint (None: a request no rule matched).
        self.hook_chains = HookChains(self)
        # Precomputed at registration so a request does as little as possible:
        self._routes: RouteIndex | None = None
        self._standard_pages: dict[type[HTTPException], bytes] = {}
        self._explicit_head: dict[str, str] = {}  # rule -> endpoint of a view registered for HEAD
        self._no_auto_options: set[str] = set()
        self._adapters: dict[tuple[Any, ...], RuleMapAdapter] = {}
        #: ``(prefix, app)`` of every :meth:`mount`, longest prefix first.
        self.mounts: list[tuple[str, WSGIApplication]] = []
        self._session_cookie: SessionCookie | None = None
        self.static_folder: str | None = None
        if static_folder is not None:
            self.static_folder = os.path.join(self.root_path, os.fspath(static_folder))
            static_view = functools.partial(self.send_static_file, self.static_folder)
            self.add_route(static_url_path.rstrip("/") + "/<path:filename>", static_view, endpoint="static")

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

        ``endpoint`` defaults to the function's name, ``methods`` to the function's
        ``methods`` attribute (a class-based view's, see :mod:`microweb.views`), else GET;
        ``rule_options`` go to Werkzeug's ``Rule`` (``defaults``, ``strict_slashes``, ...).
        """
        endpoint = endpoint or view_func.__name__
        if methods is None:
            methods = getattr(view_func, "methods", None)
        existing = self.view_functions.get(endpoint)
        if existing is not None and existing is not view_func:
            raise ValueError(self._endpoint_clash(endpoint, rule, existing, view_func))
        asked = {m.upper() for m in (methods or ("GET",))}
        provide_options = (self.auto_options if auto_options is None else auto_options) and "OPTIONS" not in asked
        url_rule = Rule(
            rule, methods=asked | ({"OPTIONS"} if provide_options else set()), endpoint=endpoint, **rule_options
        )
        try:
            self.url_map.add(url_rule)
        except LookupError as exc:  # Werkzeug's "the converter 'itn' does not exist", from deep in its compiler
            raise LookupError(_unknown_converter(rule, self.url_map.converters) or str(exc)) from None
        self.view_functions[endpoint] = view_func
        if not provide_options:
            self._no_auto_options.add(endpoint)
        if "HEAD" in asked:
            self._explicit_head[rule] = endpoint

    def _endpoint_clash(self, endpoint: str, rule: str, existing: Callable[..., Any], view: Callable[..., Any]) -> str:
        """The error for a second view under ``endpoint``: both views, both rules, and what to do."""
        rules = ", ".join(repr(r.rule) for r in self.url_map.iter_rules() if r.endpoint == endpoint) or "none"
        message = (
            f"Endpoint {endpoint!r} already belongs to {existing.__qualname__} (rule {rules}), so "
            f"{view.__qualname__} cannot have it for the rule {rule!r}"
        )
        if endpoint in _DECORATOR_INNER_NAMES:
            return (
                f"{message}: {endpoint!r} is a decorator's inner function, so every view it wraps gets that name. "
                "Decorate the inner function with @functools.wraps(view) in the decorator, so each view keeps its own."
            )
        return f"{message}; give one of them another name with endpoint=..."

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
        self.mounts.append((normalise_prefix(prefix) or "/", wsgi_app))
        self.mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    def register_blueprint(
        self,
        blueprint: Blueprint,
        *,
        url_prefix: str | None = None,
        name: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> None:
        """Take in ``blueprint``'s routes (under its prefix, or ``url_prefix``), hooks and error handlers.

        ``name`` registers it under another name (its endpoints become ``"<name>.<view>"``);
        ``parent`` is for nesting (:meth:`Blueprint.register_blueprint` passes it).
        """
        dotted = ".".join(filter(None, (parent and parent[0], name or blueprint.name)))
        existing = self.blueprints.get(dotted)
        if existing is not None:
            raise ValueError(
                f"A blueprint named {dotted!r} is already registered (Blueprint({existing.name!r}, "
                f"{existing.import_name!r})); register Blueprint({blueprint.name!r}, {blueprint.import_name!r}) "
                "under another name: register_blueprint(blueprint, name=...)"
            )
        own_prefix = blueprint.url_prefix if url_prefix is None else url_prefix
        prefix = normalise_prefix(join_paths(parent[1] if parent else "", own_prefix or ""))
        self.blueprints[dotted] = blueprint
        self._scopes[dotted] = (blueprint, *self._scopes[parent[0] if parent else None])
        blueprint.registered(self, dotted, prefix)
        self.hooks_changed()
        if blueprint.static_folder is not None:
            folder = os.path.join(_module_dir(blueprint.import_name), blueprint.static_folder)
            static_view = functools.partial(self.send_static_file, folder)
            static_rule = blueprint.static_url_path.rstrip("/") + "/<path:filename>"
            self.add_blueprint_route(dotted, prefix, static_rule, static_view, None, "static", {})
        for route in blueprint.routes:
            self.add_blueprint_route(dotted, prefix, *route)
        for child, child_prefix, child_name in blueprint.children:
            self.register_blueprint(child, url_prefix=child_prefix, name=child_name, parent=(dotted, prefix))

    def add_blueprint_route(
        self,
        blueprint: str,
        prefix: str,
        rule: str,
        view_func: Callable[..., Any],
        methods: Iterable[str] | None,
        endpoint: str | None,
        options: dict[str, Any],
    ) -> None:
        """Add a route of the blueprint registered as ``blueprint`` (a dotted name) under ``prefix``."""
        full_endpoint = f"{blueprint}.{endpoint or view_func.__name__}"
        self.add_route(join_paths(prefix, rule), view_func, methods, full_endpoint, **options)
        self.endpoint_blueprints[full_endpoint] = blueprint
        self.hook_chains.pop(full_endpoint, None)

    def hook_chain(self, blueprint: str | None) -> HookChain:
        """The hooks that apply to the views of ``blueprint`` (a dotted name; None: the app's own), flattened."""
        return HookChain(blueprint, self._scopes[blueprint])

    def hooks_changed(self) -> None:
        """A hook of the app or of one of its blueprints changed: the hook chains are made again when next needed."""
        self.hook_chains.clear()

    def _mounted(self, environ: WSGIEnvironment) -> WSGIApplication | None:
        """The mounted app for this request (its prefix moved to SCRIPT_NAME), or None for this app."""
        path = environ.get("PATH_INFO", "")
        for prefix, wsgi_app in self.mounts:
            rest = split_prefix(path, prefix)
            if rest is not None:
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = rest
                try:
                    check_trusted_host(environ, self.config["TRUSTED_HOSTS"])  # as for the app's own routes
                except HTTPException as exc:
                    # An HTTPException is a WSGI app (Werkzeug's 400 page); without its traceback,
                    # which would hold this frame and so the exception itself in a cycle.
                    return exc.with_traceback(None)
                return wsgi_app
        return None

    # ------------------------------------------------------------ URLs

    def url_for(self, endpoint: str, /, *, _external: bool = False, _anchor: str | None = None, **values: Any) -> str:
        """Build the URL of ``endpoint``; extra values become the query string (see :meth:`build_url`)."""
        return self.build_url(endpoint, values, _external, _anchor)

    def build_url(
        self, endpoint: str, values: dict[str, Any], external: bool = False, anchor: str | None = None
    ) -> str:
        """Build the URL of ``endpoint`` from a dict of values: what :meth:`url_for` and ``microweb.url_for`` call.

        In a request the URL includes the request's SCRIPT_NAME (the app's mount
        point); outside one it is built for ``config["SERVER_NAME"]``. The URL is
        Werkzeug's ``MapAdapter.build`` (``RuleMapAdapter.build_url``), with ``#anchor``.
        """
        ctx = context_var.get(None)
        # relative to the current blueprint: ".index" is "admin.index" in admin's views
        if endpoint and endpoint[0] == ".":
            blueprint = ctx.blueprint if ctx is not None and ctx.app is self else None
            endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
        if ctx is not None and ctx.app is self:
            adapter = ctx.url_adapter or self.url_adapter(ctx)
            roots = adapter.roots
            if ctx.url_builders is NO_BUILDERS and roots is not None and self._builds_urls_itself():
                # PERF: microweb.url_for then calls an endpoint's compiled builder itself, skipping
                # this method and the adapter's: as they would call it (RuleMapAdapter.build_url).
                ctx.url_root, ctx.url_external = roots
                ctx.url_builders = adapter.builders
        else:
            adapter = self.url_map.bind(self.config["SERVER_NAME"], url_scheme=self.config["PREFERRED_URL_SCHEME"])
        url = adapter.build_url(endpoint, values, external)
        return f"{url}#{anchor}" if anchor else url

    def _builds_urls_itself(self) -> bool:
        """Whether URLs are built by App's own :meth:`build_url` and :meth:`url_adapter` (no override)."""
        return type(self).build_url is App.build_url and type(self).url_adapter is App.url_adapter

    def url_adapter(self, ctx: RequestContext) -> RuleMapAdapter:
        """The request's MapAdapter (its host, mount point and scheme), bound once per such triple."""
        environ = ctx.environ
        key = (environ.get("HTTP_HOST"), environ.get("SCRIPT_NAME", ""), environ["wsgi.url_scheme"])
        adapter = self._adapters.get(key)
        if adapter is None:
            if len(self._adapters) > 64:  # Host headers come from clients: stay bounded
                self._adapters.clear()
            script_name = wsgi_decoded(key[1])
            adapter = self._adapters[key] = self.url_map.bind(get_host(environ), script_name or "/", url_scheme=key[2])
        ctx.url_adapter = adapter
        return adapter

    # ------------------------------------------------------------ a request's way through the app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The PEP 3333 entry point; calls :meth:`wsgi_app`, which middleware may wrap."""
        return self.wsgi_app(environ, start_response)

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        """A new :class:`~microweb.ctx.RequestContext` for ``environ``."""
        return RequestContext(self, environ)

    def test_request_context(self, *args: Any, **kwargs: Any) -> RequestContext:
        """A request context to enter with ``with``, for code that needs ``request``, ``url_for`` or ``g``.

        Takes Werkzeug's ``EnvironBuilder`` arguments (``"/path?x=1"``, ``method=``,
        ``headers=``, ``json=``, ``base_url=``, defaulting to ``PREFERRED_URL_SCHEME``
        and ``SERVER_NAME``). The URL is matched (``request.endpoint``, ``view_args``),
        but no hook or view runs; leaving the block ends the request: resources are
        finalized (rolled back if the block raised) and the teardown hooks run.
        """
        from werkzeug.test import EnvironBuilder  # only tests need it: not imported with the app

        if len(args) < 2 and "base_url" not in kwargs:
            kwargs["base_url"] = f"{self.config['PREFERRED_URL_SCHEME']}://{self.config['SERVER_NAME']}"
        builder = EnvironBuilder(*args, **kwargs)
        try:
            ctx = self.request_context(builder.get_environ())
        finally:
            builder.close()
        self.match_request(ctx)
        return ctx

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request: the whole way of "How a request flows", with one exit to the server.

        Wrap it for middleware: ``app.wsgi_app = Middleware(app.wsgi_app)``. Requests
        under a :meth:`mount` prefix go to the mounted app instead.
        """
        mounted = self._mounted(environ) if self.mounts else None
        if mounted is not None:
            return mounted(environ, start_response)
        ctx = self.request_context(environ)
        ctx.push()
        try:
            response = self.full_dispatch_request(ctx)
            streamed = (
                type(response.response) is not list and is_streamed(response) and environ["REQUEST_METHOD"] != "HEAD"
            )
            if not streamed:  # the request ends before its body goes out; a stream's ends when it is closed
                response = self.end_request(ctx, response)
            body = response(environ, start_response)
            return StreamedBody(ctx, body, response) if streamed else body
        except BaseException as exc:
            # SystemExit (a gunicorn sync worker's timeout), KeyboardInterrupt, a start_response that raised:
            # not for a 500 page, they go on to the server, but the resources and teardown hooks still run.
            ctx.end(exc)
            raise
        finally:
            ctx.pop()

    def full_dispatch_request(self, ctx: RequestContext) -> BaseResponse:
        """Match, run the before hooks and the view, and make the response; an error becomes its response."""
        try:
            rv = self.preprocess_request(ctx)
            if rv is None:
                rv = self.dispatch_request(ctx)
            else:
                ctx.responder = "A before_request hook"
            return self.finalize_request(ctx, rv)
        except Exception as exc:
            return self.handle_exception(ctx, exc)

    def preprocess_request(self, ctx: RequestContext) -> Any:
        """Check the host and the body's length, match the URL, run the before hooks.

        Returns the first before hook's non-None value (the response), else None.
        """
        environ = ctx.environ
        settings = self.request_settings
        if settings.version != self.config.version:
            settings = self.request_settings = RequestSettings(self.config)
        if settings.trusted_hosts:
            check_trusted_host(environ, settings.trusted_hosts)  # a 400 before anything uses the Host
        if settings.max_content_length is not None and environ.get("CONTENT_LENGTH"):
            self._check_content_length(environ)
        self.match_request(ctx)
        for before in ctx.hooks.before:  # the app's hooks, then each blueprint's from the outermost in
            rv = before()
            if rv is not None:
                return rv
        return None

    def dispatch_request(self, ctx: RequestContext) -> Any:
        """Call the matched view with the URL's values; raise the 404, 405 or redirect if none matched."""
        if ctx.routing_error is not None:
            raise ctx.routing_error
        endpoint = ctx.endpoint
        assert endpoint is not None  # PERF: not typing.cast, a function call
        if ctx.environ["REQUEST_METHOD"] == "OPTIONS" and endpoint not in self._no_auto_options:
            allowed = self.url_adapter(ctx).allowed_methods(path_info(ctx.environ))
            return self.response_class(status=200, headers={"Allow": ", ".join(sorted(allowed))})
        return self.view_functions[endpoint](**ctx.view_args or {})

    def finalize_request(self, ctx: RequestContext, rv: Any) -> BaseResponse:
        """Make ``rv`` a response and run the after hooks and the session on it."""
        return self.process_response(ctx, self.make_response(rv))

    def _check_content_length(self, environ: WSGIEnvironment) -> None:
        """Refuse a body over MAX_CONTENT_LENGTH before anything reads it (a bad length is a 400)."""
        limit = self.config["MAX_CONTENT_LENGTH"]
        if parse_content_length(environ["CONTENT_LENGTH"]) > limit:
            raise RequestEntityTooLarge(f"The request body is larger than the limit of {limit} bytes.")

    def match_request(self, ctx: RequestContext) -> None:
        """Find the endpoint: the route index for fixed paths and simple shapes, else Werkzeug's matcher.

        What matched is recorded on ``ctx`` (:meth:`RequestContext.matched`); a 404, 405
        or redirect is kept in ``ctx.routing_error`` for after the before hooks.
        """
        environ = ctx.environ
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if not path.isascii():
            path = wsgi_decoded(path)
        routes = self._routes
        if routes is None or routes.version != self.url_map.version:
            routes = self._routes = RouteIndex(self.url_map, self._explicit_head)
        static = routes.static.get(path)
        if static is not None and method in static:
            ctx.matched(static[method], {})  # view_args: a dict of its own, hooks may write into it
            return
        found = routes.match(path, method) if static is None else None  # its values: a dict of their own
        if found is None:
            try:
                adapter = self.url_adapter(ctx)
                rule, values = adapter.match(path, method, return_rule=True, query_args=environ.get("QUERY_STRING", ""))
            except HTTPException as exc:
                ctx.routing_error = exc
                return
            found = rule, dict(values)
        rule, view_args = found
        endpoint: str = rule.endpoint
        if method == "HEAD" and rule.rule in self._explicit_head:
            endpoint = self._explicit_head[rule.rule]
        ctx.matched(endpoint, view_args)

    def make_response(self, rv: Any) -> BaseResponse:
        """Turn what a view, a hook or an error handler returned into a response: the one place that does.

        Accepted: a Response (as it is); ``str`` or ``bytes`` (an HTML page); a ``dict``
        or ``list`` (JSON); any other iterable of ``str`` or ``bytes`` (a streamed HTML
        body); an HTTPException (its error page); or a tuple ``(body, status)``,
        ``(body, headers)`` or ``(body, status, headers)``, with headers as a dict or a
        list of ``(name, value)`` pairs.
        """
        kind = type(rv)
        if kind is str:  # PERF: the most common results first, without the general checks below
            return self.response_class.of(rv.encode(), HTML)
        if kind is dict:
            return self.response_class.of(dump_json(rv), JSON)
        response: BaseResponse
        if isinstance(rv, BaseResponse):  # as it is (no tuple to unpack, no body to wrap)
            response = rv
        elif kind is GeneratorType:  # PERF: a streaming view's result, without the checks it is none of
            response = self.response_class(rv, content_type=HTML)
        else:
            body, status, headers = _unpack(rv)
            response = self._body_response(body)
            if status is not None:
                response.status = status
            if headers:
                # Checked first: Werkzeug refuses a CR or LF too, but without saying in which header.
                pairs = headers.items() if isinstance(headers, Mapping) else headers
                check_headers(response.status, [(str(name), str(value)) for name, value in pairs])
                response.headers.update(headers)
        if status_code_of(response) == 204:  # no content, so no content type (PEP 3333 validators insist)
            del response.headers["Content-Type"]
        return response

    def _body_response(self, body: Any) -> BaseResponse:
        """The response for a result's body (:meth:`make_response` without the status and headers)."""
        if isinstance(body, BaseResponse):
            return body
        if isinstance(body, (str, bytes)):
            return self.response_class(body, content_type=HTML)
        if isinstance(body, (dict, list)):
            return self.response_class(dump_json(body), content_type=JSON)
        if isinstance(body, HTTPException):
            return self.error_page(body)
        if isinstance(body, Iterable):
            return self.response_class(body, content_type=HTML)
        raise TypeError(_not_a_response(body))

    def process_response(self, ctx: RequestContext, response: BaseResponse) -> BaseResponse:
        """Run the after hooks, add the session's headers, and refuse headers that must not be sent.

        The after hooks of the innermost blueprint run first and the app's last; within one
        scope, in the order they were registered.
        """
        for after in ctx.hooks.after:
            response = after(response)
        session = ctx.session_loaded
        if session is not None:
            self.session_cookie.save(session, response, ctx.environ)
        # The last moment anything can be done about a header that could inject: refused, it becomes a 500.
        if isinstance(response, Response):  # its own check skips the headers it made itself
            problem = response.header_problem()
            if problem is not None:
                raise refused(problem)
        else:
            check_headers(response.status, response.headers)  # PERF: its own iterator, not items()'s generator
        return response

    def end_request(self, ctx: RequestContext, response: BaseResponse) -> BaseResponse:
        """End the request (commit, teardown) before its body goes out; a failed commit is a 500 instead."""
        failure = ctx.end()
        if failure is None:
            return response
        response.close()
        return self.error_page(InternalServerError(original_exception=failure))

    def do_teardown_request(self, ctx: RequestContext) -> None:
        """Run the teardown hooks with the request's error (or None); a failing hook is logged, the rest run.

        In the order of the after hooks: the innermost blueprint's first, the app's last.
        """
        for teardown in ctx.hooks.teardown:
            try:
                teardown(ctx.error)
            except Exception as exc:
                self.logger.error("Exception in teardown hook %r on %s", teardown, ctx.describe(), exc_info=exc)

    # ------------------------------------------------------------ errors

    def handle_exception(self, ctx: RequestContext, exc: Exception) -> BaseResponse:
        """The response for an exception from matching, a hook or the view.

        An error handler's (see :meth:`~microweb.scaffold.Scaffold.errorhandler`), else the built-in error page;
        an exception that is no HTTPException is logged and becomes a 500. If making
        that response fails too, the plain 500 page goes out, without the after hooks.
        """
        ctx.error = exc
        handler = self.error_handler_for(exc, ctx.blueprint)
        if handler is None and not isinstance(exc, HTTPException):
            self.logger.error("Exception on %s", ctx.describe(), exc_info=exc)
            exc = InternalServerError(original_exception=exc)
            handler = self.error_handler_for(exc, ctx.blueprint)
        try:
            if handler is not None:
                rv = handler(exc)
            else:
                assert isinstance(exc, HTTPException)  # any other became a 500 above
                rv = self.error_page(exc)
            return self.finalize_request(ctx, rv)
        except Exception as handler_exc:
            self.logger.error("Exception while handling an error on %s", ctx.describe(), exc_info=handler_exc)
            return self.error_page(InternalServerError(original_exception=handler_exc))

    def shows_tracebacks(self, environ: WSGIEnvironment) -> bool:
        """Whether a 500 page for this request shows the traceback: in debug mode, to loopback clients only.

        A second line behind the debug-host check of :meth:`run`, which cannot see servers
        started without it (``gunicorn mod:app``, mod_wsgi): a client at another address
        gets the production page unless ``config["DEBUG_REMOTE"]`` is true. No address
        at all (a test client, a unix socket) counts as this machine.
        """
        if not self.debug:
            return False
        address = environ.get("REMOTE_ADDR")
        return not address or is_loopback(address) or bool(self.config["DEBUG_REMOTE"])

    def error_handler_for(self, exc: BaseException, blueprint: str | None = None) -> ErrorHandler | None:
        """The nearest handler for ``exc``: the innermost blueprint's first, the app's last.

        In each scope, a handler for ``exc``'s status code, else for the closest class in its MRO.
        An unmatched URL's 404 or 405 has no blueprint: the app's handlers answer it.
        """
        for scope in self._scopes[blueprint]:
            handler = scope.error_handler_in_scope(exc)
            if handler is not None:
                return handler
        return None

    def error_page(self, exc: HTTPException) -> BaseResponse:
        """The built-in page for an HTTP error: HTML, or JSON for clients that prefer it.

        In debug mode a 500 shows the traceback. A standard page (Werkzeug's text for the
        code) is made once per class and reused.
        """
        environ = current_context().environ
        original = exc.original_exception if isinstance(exc, InternalServerError) else None
        if original is not None and self.shows_tracebacks(environ):
            trace = "".join(traceback.format_exception(original))
            page = (
                "<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
                f"<pre>{html.escape(trace)}</pre>\n"
            )
            return self.response_class(page, 500, content_type=HTML)
        headers = exc.get_headers(environ)
        check_headers(str(exc.code), headers)  # before Werkzeug's check, which names no header
        if isinstance(exc, RequestRedirect):  # to the slash-fixed path, with the client's raw query string
            exc.new_url = quote_unsafe_in_url(_relative_if_own(exc.new_url, environ))
        if _may_want_json(environ) and _prefers_json(current_context().request):
            response = exc.get_response(environ)
            response.set_data(
                dump_json({"error": {"code": exc.code, "name": exc.name, "description": exc.description}})
            )
            response.content_type = JSON
            return response
        cls = type(exc)
        if exc.description != cls.description or exc.response is not None or cls.get_response is not _get_response:
            return exc.get_response(environ)  # a page of its own (a description, a redirect): Werkzeug builds it
        body = self._standard_pages.get(cls)
        if body is None:
            body = self._standard_pages[cls] = exc.get_body(environ).encode()
        extra = [(name, value) for name, value in headers if name != "Content-Type"]  # checked above
        if exc.code in HTTP_STATUS_CODES and len(extra) + 1 == len(headers):
            return checked_response(self.response_class, body, HTML, exc.code, extra)
        return self.response_class(body, exc.code, headers)

    # ------------------------------------------------------------ sessions, static files, tools

    @property
    def session_cookie(self) -> SessionCookie:
        """The signer and cookie settings behind :data:`session`; any change to ``SECRET_KEY`` is seen."""
        key = self.config["SECRET_KEY"]
        if key is None:
            raise RuntimeError(
                "The session needs a secret key: create the app with App(secret_key=...), "
                "or set app.config['SECRET_KEY'] (app.config.from_prefixed_env() reads MICROWEB_SECRET_KEY)."
            )
        cookie = self._session_cookie
        # Compared by value: a key list changed in place (a leaked key removed) must stop verifying at once.
        if cookie is None or cookie.keys != SessionCookie.snapshot(key):
            cookie = self._session_cookie = SessionCookie(key, self.config)
        return cookie

    def send_static_file(self, folder: str, filename: str) -> BaseResponse:
        """The file ``filename`` of ``folder`` for the current request (the static routes' view); else a 404.

        A path with a segment starting with ``.`` is a 404 unless ``config["STATIC_DOTFILES"]``.
        """
        if not self.config["STATIC_DOTFILES"] and _DOT_SEGMENT.search(filename):
            raise NotFound()  # .env, .git/config, .htpasswd: secrets more often than assets
        return send_from_directory(folder, filename)

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


class HookChains(dict[str | None, HookChain]):
    """The :class:`~microweb.scaffold.HookChain` of each endpoint (None: no rule matched), made on first use.

    PERF: a request finds its hooks with one lookup, whatever scope they were registered in.
    The endpoints of one blueprint share its chain. Emptied when a hook or a blueprint is added.
    """

    __slots__ = ("_app", "_by_blueprint")

    def __init__(self, app: App) -> None:
        super().__init__()
        self._app = weakref.ref(app)  # weak: no cycle between the app and its own table
        self._by_blueprint: dict[str | None, HookChain] = {}

    def __missing__(self, endpoint: str | None) -> HookChain:
        app = self._app()
        if app is None:
            raise RuntimeError("The app of these hook chains no longer exists.")
        blueprint = app.endpoint_blueprints.get(endpoint) if endpoint is not None else None
        chain = self._by_blueprint.get(blueprint)
        if chain is None:
            chain = self._by_blueprint[blueprint] = app.hook_chain(blueprint)
        self[endpoint] = chain
        return chain

    def clear(self) -> None:
        """Forget every chain (they are made again when next needed)."""
        super().clear()
        self._by_blueprint.clear()


# A path segment (after "/" or "\\", Windows' separator, or at the start) that starts with a dot.
_DOT_SEGMENT = re.compile(r"(?:^|[/\\])\.")
# What a decorator usually calls its inner function: views wrapped without functools.wraps all get this name.
_DECORATOR_INNER_NAMES = frozenset({"wrapper", "inner", "decorated", "wrapped", "decorator", "_wrapper", "wrap"})
# A converter in a rule: <name:var>, <name(args):var>; the arguments without ")" inside, so it is linear.
_CONVERTER = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?:\([^)]*\))?:")


def _unknown_converter(rule: str, known: Mapping[str, Any]) -> str | None:
    """The error for a rule that names a converter that does not exist (None if it names none)."""
    for name in _CONVERTER.findall(rule):
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            return (
                f"The rule {rule!r} uses the converter {name!r}, which does not exist.{hint} "
                f"The known converters are {', '.join(sorted(known))}; add your own to "
                f"app.url_map.converters[{name!r}] before the rule."
            )
    return None


_RETURN_SHAPES = (
    "return a str or bytes (HTML), a dict or list (JSON), an iterator (a stream), a Response, "
    "or a tuple (body, status), (body, headers) or (body, status, headers)"
)


def _who() -> str:
    ctx = context_var.get()
    if ctx.error is not None:  # set before an error handler is called
        return f"The error handler for {type(ctx.error).__name__}"
    if ctx.responder is not None:
        return ctx.responder
    return f"The view {ctx.endpoint!r}" if ctx.endpoint else "A hook or error handler"


def _not_a_response(body: Any) -> str:
    what = "None" if body is None else type(body).__name__
    return f"{_who()} returned {what}, which is not a response; {_RETURN_SHAPES}."


def _unpack(rv: Any) -> tuple[Any, int | str | None, Any]:
    """Split ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``, checking each part."""
    if not isinstance(rv, tuple):
        return rv, None, None
    if len(rv) == 3:
        body, status, headers = rv
    elif len(rv) == 2:
        body, status, headers = (rv[0], rv[1], None) if isinstance(rv[1], (int, str)) else (rv[0], None, rv[1])
    else:
        raise TypeError(f"{_who()} returned a tuple of {len(rv)} items; {_RETURN_SHAPES}.")
    if status is not None and not isinstance(status, int) and not (isinstance(status, str) and status[:3].isdigit()):
        raise TypeError(
            f"{_who()} returned the status {status!r}, which is no HTTP status such as 404 or '404 Not Found'; "
            f"{_RETURN_SHAPES}."
        )
    if (
        headers is not None
        and not isinstance(headers, Mapping)
        and not (
            isinstance(headers, (list, tuple)) and all(isinstance(pair, tuple) and len(pair) == 2 for pair in headers)
        )
    ):
        raise TypeError(
            f"{_who()} returned the headers {type(headers).__name__}, not a dict or a list of (name, value) pairs; "
            f"{_RETURN_SHAPES}."
        )
    return body, status, headers


def _relative_if_own(url: str, environ: WSGIEnvironment) -> str:
    """``url`` made path-absolute (``/docs/?q``) when it is on the request's own scheme and host, else as it is.

    Werkzeug builds its redirects (a slash added, slashes merged) from the Host header, which
    any client sets: relative (RFC 9110 10.2.2), they stay on the site whatever it said.
    """
    try:
        origin = f"{environ['wsgi.url_scheme']}://{get_host(environ)}"
    except HTTPException:
        return url
    rest = url[len(origin) :]
    if url[: len(origin)].lower() != origin.lower() or rest[:1] not in ("", "/", "?"):
        return url
    return "/" + rest.lstrip("/\\")  # never "//host" or "/\\host", which browsers read as another site


def path_info(environ: WSGIEnvironment) -> str:
    """PATH_INFO as text (``/`` when empty), the path the rules match."""
    return wsgi_decoded(environ.get("PATH_INFO") or "/")


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
