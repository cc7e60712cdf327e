"""Class-based views: MethodView's methods are the route's, one instance per request, Flask's attributes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from microweb import App, MethodView, View, request
from microweb.testing import TestClient

from support import validated_client


class ItemAPI(MethodView):
    def __init__(self, store: dict[int, str], greeting: str = "item") -> None:
        self.store = store
        self.greeting = greeting
        self.calls = 0

    def get(self, item_id: int) -> dict[str, Any]:
        self.calls += 1
        return {"id": item_id, "value": self.store.get(item_id), "greeting": self.greeting, "calls": self.calls}

    def put(self, item_id: int) -> tuple[str, int]:
        self.store[item_id] = request.get_data(as_text=True)
        return "", 204

    def delete(self, item_id: int) -> tuple[str, int]:
        self.store.pop(item_id, None)
        return "", 204


@pytest.fixture
def store() -> dict[int, str]:
    return {}


@pytest.fixture
def api(app: App, client: TestClient, store: dict[int, str]) -> TestClient:
    app.add_route("/items/<int:item_id>", ItemAPI.as_view("item", store, greeting="hello"))
    return client


def test_methods_are_the_ones_the_class_defines(api: TestClient) -> None:
    response = api.post("/items/1")
    assert response.status_code == 405
    assert sorted(response.headers["Allow"].split(", ")) == ["DELETE", "GET", "HEAD", "OPTIONS", "PUT"]
    assert sorted(api.options("/items/1").headers["Allow"].split(", ")) == ["DELETE", "GET", "HEAD", "OPTIONS", "PUT"]
    assert ItemAPI.methods == frozenset({"GET", "PUT", "DELETE"})


def test_each_method_answers_its_requests(api: TestClient, store: dict[int, str]) -> None:
    assert api.put("/items/3", data="pen").status_code == 204
    assert store == {3: "pen"}
    assert api.get("/items/3").json == {"id": 3, "value": "pen", "greeting": "hello", "calls": 1}
    head = api.head("/items/3")  # answered by get(), without the body
    assert head.status_code == 200 and head.data == b"" and int(head.headers["Content-Length"]) > 0
    assert api.delete("/items/3").status_code == 204 and store == {}


def test_a_new_instance_per_request_with_the_constructor_arguments(api: TestClient) -> None:
    assert api.get("/items/1").json["calls"] == 1
    assert api.get("/items/1").json["calls"] == 1  # a fresh instance: nothing kept between requests


def test_init_every_request_false_shares_one_instance(app: App, client: TestClient) -> None:
    made: list[object] = []

    class Counter(MethodView):
        init_every_request = False

        def __init__(self) -> None:
            made.append(self)
            self.count = 0

        def get(self) -> str:
            self.count += 1
            return str(self.count)

    app.add_route("/count", Counter.as_view("count"))
    assert len(made) == 1
    assert [client.get("/count").data for _ in range(3)] == [b"1", b"2", b"3"]
    assert len(made) == 1


def test_the_endpoint_is_the_name_and_the_function_knows_its_class(app: App, api: TestClient) -> None:
    view = app.view_functions["item"]
    assert view.__name__ == "item" and view.view_class is ItemAPI
    assert app.url_for("item", item_id=5) == "/items/5"


def test_explicit_methods_win_over_the_classes(app: App, client: TestClient, store: dict[int, str]) -> None:
    app.add_route("/ro/<int:item_id>", ItemAPI.as_view("read_only", store), methods=["GET"])
    assert client.get("/ro/1").status_code == 200
    assert client.delete("/ro/1").status_code == 405


def test_a_plain_view_is_get_only_unless_it_says(app: App, client: TestClient) -> None:
    class Hello(View):
        def dispatch_request(self, **view_args: Any) -> str:
            return f"hello {request.method}"

    class Both(View):
        methods = ["GET", "POST"]

        def dispatch_request(self, **view_args: Any) -> str:
            return request.method

    app.add_route("/hello", Hello.as_view("hello"))
    app.add_route("/both", Both.as_view("both"))
    assert client.get("/hello").data == b"hello GET"
    assert client.post("/hello").status_code == 405
    assert client.post("/both").data == b"POST"


def test_subclasses_inherit_methods_and_can_add_some(app: App, client: TestClient) -> None:
    class Base(MethodView):
        def get(self) -> str:
            return "base get"

    class More(Base):
        def post(self) -> str:
            return "more post"

    app.add_route("/more", More.as_view("more"))
    assert More.methods == frozenset({"GET", "POST"})
    assert client.get("/more").data == b"base get" and client.post("/more").data == b"more post"


def test_decorators_wrap_the_view_function(app: App, client: TestClient) -> None:
    def tagged(tag: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(**kwargs: Any) -> Any:
                return f"{tag}({view(**kwargs)})"

            return wrapper

        return decorator

    class Wrapped(MethodView):
        decorators = [tagged("inner"), tagged("outer")]

        def get(self) -> str:
            return "view"

    app.add_route("/wrapped", Wrapped.as_view("wrapped"))
    assert client.get("/wrapped").data == b"outer(inner(view))"
    assert app.view_functions["wrapped"].__name__ == "wrapped"


def test_a_method_listed_but_not_defined_is_a_500_saying_what_to_do(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    class OnlyGet(MethodView):
        def get(self) -> str:
            return "got"

    app.add_route("/only", OnlyGet.as_view("only"), methods=["GET", "POST"])
    assert client.post("/only").status_code == 500
    assert "OnlyGet has no post() for POST requests: define it" in caplog.text


def test_a_view_class_may_take_an_argument_called_name(app: App, client: TestClient) -> None:
    class Named(MethodView):
        def __init__(self, name: str) -> None:
            self.name = name

        def get(self) -> str:
            return self.name

    app.add_route("/named", Named.as_view("named", name="ann"))  # as_view's own name is positional-only
    assert client.get("/named").data == b"ann"


def test_responses_pass_wsgi_validation(app: App, store: dict[int, str]) -> None:
    app.add_route("/items/<int:item_id>", ItemAPI.as_view("item", store))
    client = validated_client(app)
    for method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST"):
        assert client.open("/items/1", method=method).status_code in (200, 204, 405)
