"""The app module the servers' configs name (gwapp:app): the project's app, built with its settings.

The server imports it in its own process, so the settings come from that process's environment,
set by the server's config. A missing one stops the app at start (KeyError), in the server's log.
"""

import os

from myproject import create_app
from werkzeug.middleware.proxy_fix import ProxyFix

from microweb import App
from microweb.serving import PrefixMiddleware, for_mod_python

SETTINGS = {"SECRET_KEY": os.environ["SECRET_KEY"], "DATABASE_URL": os.environ["DATABASE_URL"]}

app = create_app(SETTINGS)

# For mod_python's WSGI handler, whose bugs it corrects: gwapp::mod_python_app
mod_python_app = for_mod_python(app)

# For a server that cannot mount the app itself (uWSGI's HTTP socket): the app at /app, a 404 elsewhere.
prefixed_app = PrefixMiddleware(app, "/app")


def create_proxied_app() -> App:
    """The app behind one trusted proxy (nginx): X-Forwarded-For, -Proto, -Host and -Prefix honoured."""
    proxied = create_app(SETTINGS)
    proxied.wsgi_app = ProxyFix(proxied.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    return proxied
