"""Serving an app: a registry of server adapters, chosen by name in ``App.run``.

Each adapter imports its server only when it runs, so choosing one never
costs the others. Add your own with :func:`register_server`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

ServerAdapter = Callable[..., None]
SERVERS: dict[str, ServerAdapter] = {}


def register_server(name: str) -> Callable[[ServerAdapter], ServerAdapter]:
    """Register ``adapter(app, host=..., port=..., **options)`` as server ``name``."""

    def decorator(adapter: ServerAdapter) -> ServerAdapter:
        SERVERS[name] = adapter
        return adapter

    return decorator


def run(app: WSGIApplication, server: str = "wsgiref", **options: Any) -> None:
    """Serve ``app`` with the server adapter called ``server``."""
    try:
        adapter = SERVERS[server]
    except KeyError:
        raise ValueError(f"Unknown server {server!r}; choose one of: {', '.join(sorted(SERVERS))}") from None
    adapter(app, **options)


@register_server("wsgiref")
def serve_wsgiref(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False) -> None:
    """The standard library's server, one thread per request: for development."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                super().log_message(format, *args)

    with make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=Handler) as httpd:
        shown_host = f"[{host}]" if ":" in host else host
        print(
            f" * microweb serving on http://{shown_host}:{httpd.server_port}/ (Ctrl+C to stop)",
            file=sys.stderr,
            flush=True,
        )
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


@register_server("cgi")
def serve_cgi(app: WSGIApplication, **_ignored: Any) -> None:
    """Answer the one request of this CGI process (the web server runs the script per request)."""
    from wsgiref.handlers import CGIHandler

    CGIHandler().run(app)
