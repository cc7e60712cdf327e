"""Checked by ``mypy --strict`` in CI (not run by pytest): the decorators keep the decorated types."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, assert_type

from werkzeug.wrappers import Response as BaseResponse

from microweb import (
    App,
    Blueprint,
    Config,
    MethodView,
    Request,
    RequestContext,
    Response,
    Session,
    current_app,
    flash,
    g,
    get_flashed_messages,
    request,
    send_file,
    session,
)
from microweb.cors import allow_cors
from microweb.csrf import protect, rotate_csrf_token
from microweb.testing import CliResult, CliRunner
from microweb.views import ViewFunction

app = App(__name__, secret_key="typecheck-only-key-0123456789abcdef")


@app.get("/users/<int:uid>")
def user(uid: int) -> dict[str, int]:
    return {"uid": uid}


@app.route("/", methods=["GET", "POST"])
def index() -> str:
    return "index"


@app.resource
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    try:
        yield conn
    finally:
        conn.close()


@app.after_request
def after(response: Response) -> Response:
    return response


typed_view: Callable[[int], dict[str, int]] = user  # the decorator kept the signature
assert_type(user.__name__, str)
assert_type(user(1), dict[str, int])
assert_type(index(), str)
assert_type(db(), sqlite3.Connection)
assert_type(after(Response()), Response)
assert_type(request, Request)
assert_type(session, Session)
assert_type(app.url_for("user", uid=1), str)
assert_type(rotate_csrf_token(), str)
assert_type(protect(app, exempt=["index"], trusted_origins=["https://forms.example.com"]), None)

# Blueprints: the same decorators, the same kept types.
admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.get("/items/<int:n>")
def item(n: int) -> dict[str, int]:
    return {"n": n}


@admin.before_request
def guard() -> None:
    return None


@admin.errorhandler(KeyError)
def missing(exc: KeyError) -> tuple[str, int]:
    return "missing", 404


app.register_blueprint(admin)
typed_item: Callable[[int], dict[str, int]] = item
assert_type(item(2), dict[str, int])
assert_type(guard(), None)
assert_type(missing(KeyError()), tuple[str, int])
assert_type(g.get("user"), Any)
assert_type(current_app, App)

allow_cors(app, origins=["https://app.example.com"], credentials=True, expose=["X-Total"])  # App is a cors.Hooks
with app.test_request_context("/users/1", method="POST") as ctx:
    assert_type(ctx, RequestContext)
    assert_type(request.path, str)
    assert_type(app.url_for("user", uid=2), str)
assert_type(CliRunner(app).invoke("routes"), CliResult)
allow_cors(admin, origins=["https://app.example.com"])  # a Blueprint is a cors.Hooks too

# ---------------------------------------------------------------- class-based views, config, flash, files


class ItemAPI(MethodView):
    def __init__(self, store: dict[int, str], *, prefix: str = "") -> None:
        self.store = store
        self.prefix = prefix

    def get(self, item_id: int) -> dict[str, str]:
        return {"item": self.prefix + self.store[item_id]}

    def delete(self, item_id: int) -> tuple[str, int]:
        return "", 204


item_view = ItemAPI.as_view("item", {1: "pen"}, prefix="#")  # the constructor's arguments are checked
app.add_route("/items/<int:item_id>", item_view)
assert_type(item_view, ViewFunction[ItemAPI])
assert_type(item_view.view_class, type[ItemAPI])
assert_type(ItemAPI({}).get(1), dict[str, str])  # the methods keep their signatures
assert_type(app.config, Config)
assert_type(app.config.from_prefixed_env("MYAPP"), bool)
assert_type(app.logger, logging.Logger)
assert_type(get_flashed_messages(), list[str])
assert_type(get_flashed_messages(with_categories=True), list[tuple[str, str]])
assert_type(get_flashed_messages(bool(app.debug)), list[str] | list[tuple[str, str]])
assert_type(flash("saved", "info"), None)
assert_type(send_file("report.csv", as_attachment=True), BaseResponse)
