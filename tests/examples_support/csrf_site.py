"""A form site for the CSRF browser test: served behind a TLS proxy (ProxyFix, one hop), protect() on.

``GET /form?policy=...`` sends that ``Referrer-Policy``; ``POST /save`` needs the token.
"""

from __future__ import annotations

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from microweb import App, csrf_token, request
from microweb.csrf import protect

app = App(__name__, secret_key=os.environ["SECRET_KEY"])
app.config["SESSION_COOKIE_SECURE"] = True


@app.get("/form")
def form() -> tuple[str, dict[str, str]]:
    token = csrf_token()
    page = (
        '<!doctype html><form method="post" action="/save">'
        f'<input type="hidden" name="csrf_token" value="{token}"><button id="send">Send</button></form>'
        f'<p id="token">{token}</p>'
    )
    policy = request.args.get("policy")
    return page, {"Referrer-Policy": policy} if policy else {}


@app.post("/save")
def save() -> str:
    return '<p id="result">saved</p>'


protect(app)
app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
