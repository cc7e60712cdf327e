"""Blueprints: routes under a prefix, endpoints named after them, hooks and error handlers of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Response as BaseResponse

from microweb import App, Blueprint, request, url_for
from microweb.cli import main as cli_main

from support import SECRET, validated_client


def _admin() -> Blueprint:
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.get("/")
    def index() -> dict[str, Any]:
        return {"self": url_for(".index"), "home": url_for("home"), "bp": request.blueprint}

    @admin.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, Any]:
        return {"uid": uid, "endpoint": request.endpoint}

    return admin


def _app(*blueprints: Blueprint, **options: Any) -> App:
    app = App(secret_key=SECRET)
    app.add_route("/", lambda: {"bp": request.blueprint}, endpoint="home")
    for blueprint in blueprints:
        app.register_blueprint(blueprint, **options)
    return app


def test_routes_endpoints_and_url_for() -> None:
    client = validated_client(_app(_admin()))
    assert client.get("/admin/").json == {"self": "/admin/", "home": "/", "bp": "admin"}
    assert client.get("/admin/users/3").json == {"uid": 3, "endpoint": "admin.user"}
    assert client.get("/").json == {"bp": None}


def test_the_prefix_can_be_given_at_registration() -> None:
    app = _app(_admin(), url_prefix="/other")
    client = validated_client(app)
    assert client.get("/other/").json["self"] == "/other/"
    assert client.get("/admin/").status_code == 404
    assert app.url_for("admin.user", uid=5) == "/other/users/5"


def test_nested_blueprints_join_names_and_prefixes() -> None:
    api = Blueprint("api", __name__)
    v1 = Blueprint("v1", __name__, url_prefix="/v1")

    @v1.get("/items/<int:n>")
    def item(n: int) -> dict[str, Any]:
        return {"n": n, "bp": request.blueprint, "self": url_for(".item", n=n)}

    api.register_blueprint(v1)
    app = _app(api, url_prefix="/public")
    assert app.url_for("api.v1.item", n=2) == "/public/v1/items/2"
    answer = validated_client(app).get("/public/v1/items/2").json
    assert answer == {"n": 2, "bp": "api.v1", "self": "/public/v1/items/2"}


def test_routes_added_after_registration_are_served() -> None:
    late = Blueprint("late", __name__, url_prefix="/late")
    app = _app(late)
    late.add_route("/x", lambda: "x", endpoint="x")
    assert validated_client(app).get("/late/x").data == b"x"


def test_hook_order_app_then_outer_then_inner_and_after_hooks_in_reverse() -> None:
    seen: list[str] = []
    outer = Blueprint("outer", __name__, url_prefix="/o")
    inner = Blueprint("inner", __name__, url_prefix="/i")
    inner.add_route("/", lambda: (seen.append("view"), "ok")[1], endpoint="v")
    outer.register_blueprint(inner)
    app = _app(outer)

    for name, scope in [("app", app), ("outer", outer), ("inner", inner)]:
        scope.before_request(lambda name=name: seen.append(f"before {name}"))

        def after(response: BaseResponse, name: str = name) -> BaseResponse:
            seen.append(f"after {name}")
            return response

        scope.after_request(after)
        scope.teardown_request(lambda error, name=name: seen.append(f"teardown {name}"))

    assert validated_client(app).get("/o/i/").data == b"ok"
    assert seen == [
        "before app", "before outer", "before inner", "view",
        "after inner", "after outer", "after app",
        "teardown inner", "teardown outer", "teardown app",
    ]  # fmt: skip
    seen.clear()
    validated_client(app).get("/")  # the app's own view: only the app's hooks
    assert seen == ["before app", "after app", "teardown app"]


def test_a_blueprint_before_hook_guards_only_its_views() -> None:
    admin = _admin()

    @admin.before_request
    def must_be_admin() -> Any:
        return None if request.headers.get("X-Admin") == "yes" else ("admins only", 403)

    client = validated_client(_app(admin))
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/", headers={"X-Admin": "yes"}).status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/admin/missing").status_code == 404  # unmatched: the app's, not the blueprint's


def test_errors_go_to_the_nearest_handler() -> None:
    outer = Blueprint("outer", __name__, url_prefix="/o")
    inner = Blueprint("inner", __name__, url_prefix="/i")

    def fail() -> str:
        raise KeyError("k")

    inner.add_route("/key", fail, endpoint="key")
    outer.add_route("/key", fail, endpoint="key")
    inner.add_route("/value", lambda: int("x"), endpoint="value")
    outer.register_blueprint(inner)
    inner.errorhandler(KeyError)(lambda exc: ("inner handled", 500))
    outer.errorhandler(KeyError)(lambda exc: ("outer handled", 500))
    app = _app(outer)
    app.errorhandler(ValueError)(lambda exc: ("app handled", 400))
    app.errorhandler(404)(lambda exc: ("app 404", 404))
    outer.errorhandler(404)(lambda exc: ("outer 404", 404))
    client = validated_client(app)
    assert client.get("/o/i/key").data == b"inner handled"
    assert client.get("/o/key").data == b"outer handled"
    assert client.get("/o/i/value").data == b"app handled"
    assert client.get("/o/nowhere").data == b"app 404"  # a URL no rule matches is the app's


def test_two_blueprints_of_one_name_are_a_clear_error() -> None:
    app = _app(_admin())
    with pytest.raises(ValueError, match=r"blueprint named 'admin' is already registered.*name=\.\.\."):
        app.register_blueprint(Blueprint("admin", "other.module"))
    app.register_blueprint(Blueprint("admin", "other.module"), name="admin2", url_prefix="/a2")
    assert "admin2" in app.blueprints


def test_an_endpoint_twice_in_a_blueprint_is_a_clear_error() -> None:
    bp = Blueprint("bp", __name__)
    bp.add_route("/a", lambda: "a", endpoint="same")
    bp.add_route("/b", lambda: "b", endpoint="same")
    with pytest.raises(ValueError, match="'bp.same' already belongs to"):
        _app(bp)


@pytest.mark.parametrize("name", ["", "a.b"])
def test_a_blueprint_name_is_one_word(name: str) -> None:
    with pytest.raises(ValueError, match="without dots"):
        Blueprint(name, __name__)


def test_a_blueprint_serves_its_own_static_folder(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "admin.css").write_text("b { }")
    admin = Blueprint("admin", __name__, url_prefix="/admin", static_folder=str(tmp_path / "static"))
    app = _app(admin)
    client = validated_client(app)
    response = client.get("/admin/static/admin.css")
    assert response.status_code == 200 and response.data == b"b { }"
    response.close()
    assert client.get("/admin/static/../../etc/passwd").status_code == 404
    assert app.url_for("admin.static", filename="admin.css") == "/admin/static/admin.css"


def test_microweb_routes_shows_each_routes_blueprint(capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import types

    module = types.ModuleType("bp_routes_app")
    module.app = _app(_admin())  # type: ignore[attr-defined]
    sys.modules["bp_routes_app"] = module
    try:
        assert cli_main(["routes", "bp_routes_app:app"]) == 0
    finally:
        del sys.modules["bp_routes_app"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Rule", "Methods", "Endpoint", "Blueprint"]
    row = next(line.split() for line in lines if line.startswith("/admin/users/"))
    assert row[-2:] == ["admin.user", "admin"]
    home = next(line.split() for line in lines if line.startswith("/ "))
    assert home[-1] == "home"  # the app's own: no blueprint


def test_a_blueprint_does_not_keep_the_apps_it_was_registered_on_alive() -> None:
    import gc
    import weakref

    shared = _admin()  # a blueprint at module level outlives the apps (a test suite makes many)
    app = _app(shared)
    gone = weakref.ref(app)
    del app
    gc.collect()
    assert gone() is None
    later = _app(shared)  # and it still registers on a new app, with a route added afterwards
    shared.add_route("/late", lambda: "late", endpoint="late")
    assert validated_client(later).get("/admin/late").data == b"late"


def _recording(seen: list[str], name: str, scope: App | Blueprint) -> None:
    scope.before_request(lambda: seen.append(f"before {name}"))

    def after(response: BaseResponse) -> BaseResponse:
        seen.append(f"after {name}")
        return response

    scope.after_request(after)
    scope.teardown_request(lambda error: seen.append(f"teardown {name}"))


def test_hooks_added_after_the_first_request_run_in_their_place() -> None:
    seen: list[str] = []
    outer = Blueprint("outer", __name__, url_prefix="/o")
    inner = Blueprint("inner", __name__, url_prefix="/i")
    inner.add_route("/", lambda: (seen.append("view"), "ok")[1], endpoint="v")
    outer.register_blueprint(inner)
    app = _app(outer)
    client = validated_client(app)
    assert client.get("/o/i/").data == b"ok" and seen == ["view"]
    # Added innermost first, after requests were served: they still run app, outer, inner.
    for name, scope in [("inner", inner), ("outer", outer), ("app", app)]:
        _recording(seen, name, scope)
        seen.clear()
        client.get("/o/i/")
    assert seen == [
        "before app", "before outer", "before inner", "view",
        "after inner", "after outer", "after app",
        "teardown inner", "teardown outer", "teardown app",
    ]  # fmt: skip
    inner.before_request_funcs.clear()
    outer.after_request_funcs.clear()
    seen.clear()
    client.get("/o/i/")
    assert seen == [
        "before app", "before outer", "view", "after inner", "after app",
        "teardown inner", "teardown outer", "teardown app",
    ]  # fmt: skip


def test_a_blueprint_registered_after_the_first_request_brings_its_hooks_for_its_views_only() -> None:
    seen: list[str] = []
    app = _app()
    _recording(seen, "app", app)
    client = validated_client(app)
    client.get("/")
    late = Blueprint("late", __name__, url_prefix="/late")
    late.add_route("/", lambda: "late", endpoint="index")
    _recording(seen, "late", late)
    app.register_blueprint(late)
    seen.clear()
    assert client.get("/late/").data == b"late"
    assert seen == ["before app", "before late", "after late", "after app", "teardown late", "teardown app"]
    seen.clear()
    client.get("/")
    assert seen == ["before app", "after app", "teardown app"]


def test_a_hook_added_to_a_blueprint_reaches_every_app_and_name_it_is_registered_under() -> None:
    seen: list[str] = []
    shared = _admin()
    first, second = _app(shared), _app(shared)
    first.register_blueprint(shared, name="again", url_prefix="/again")
    clients = [validated_client(first), validated_client(second)]
    for client in clients:
        client.get("/admin/")
    shared.before_request(lambda: seen.append(request.blueprint or "app"))
    for client in clients:
        client.get("/admin/")
        client.get("/")
    clients[0].get("/again/")
    assert seen == ["admin", "admin", "again"]


def test_an_error_handler_added_after_the_first_request_handles_the_next_error() -> None:
    admin = Blueprint("admin", __name__, url_prefix="/admin")
    admin.add_route("/fail", lambda: {}["missing"], endpoint="fail")
    client = validated_client(_app(admin))
    assert client.get("/admin/fail").status_code == 500
    admin.errorhandler(KeyError)(lambda exc: ("handled", 409))
    reply = client.get("/admin/fail")
    assert reply.status_code == 409 and reply.data == b"handled"


def test_the_endpoints_of_a_blueprint_share_one_hook_chain() -> None:
    app = _app(_admin())
    chain = app.hook_chains["admin.index"]
    assert app.hook_chains["admin.user"] is chain and chain.blueprint == "admin" and chain.scopes[-1] is app
    assert app.hook_chains["home"] is app.hook_chains[None] and app.hook_chains[None].blueprint is None
