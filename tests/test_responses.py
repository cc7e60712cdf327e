"""View return values become responses: types, tuples, streaming, None, Content-Length."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from microweb import App, Response, redirect, request
from microweb.testing import TestClient


@pytest.mark.parametrize(
    ("value", "body", "content_type"),
    [
        ("héllo", "héllo".encode(), "text/html; charset=utf-8"),
        (b"\x00raw\xff", b"\x00raw\xff", "text/html; charset=utf-8"),
        ({"a": 1, "ü": [1, 2]}, '{"a":1,"ü":[1,2]}'.encode(), "application/json"),
        ([1, "two", None], b'[1,"two",null]', "application/json"),
    ],
)
def test_simple_values(app: App, client: TestClient, value: Any, body: bytes, content_type: str) -> None:
    app.add_route("/", lambda: value, endpoint="v")
    response = client.get("/")
    assert response.status_code == 200
    assert response.data == body
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("with_hook", [False, True])
def test_simple_values_same_with_or_without_fast_path(app: App, client: TestClient, with_hook: bool) -> None:
    app.add_route("/", lambda: {"x": "y"}, endpoint="v")
    if with_hook:
        app.after_request(lambda response: response)
    response = client.get("/")
    assert (response.data, response.headers["Content-Type"], response.headers["Content-Length"]) == (
        b'{"x":"y"}',
        "application/json",
        "9",
    )


@pytest.mark.parametrize("with_hook", [False, True])
def test_json_with_a_lone_surrogate_is_escaped_not_a_500(app: App, client: TestClient, with_hook: bool) -> None:
    # json.loads accepts "\ud800", so a view that echoes a client's JSON may return one; it is not UTF-8.
    app.add_route("/", lambda: {"echo": request.json}, methods=["POST"], endpoint="v")
    if with_hook:
        app.after_request(lambda response: response)
    response = client.post("/", data=rb'["\ud800", "\u00e9"]', content_type="application/json")
    assert response.status_code == 200
    assert response.data == rb'{"echo":["\ud800","\u00e9"]}'
    assert response.json == {"echo": ["\ud800", "\u00e9"]}


def test_response_object_passes_through(app: App, client: TestClient) -> None:
    @app.get("/")
    def view() -> Response:
        return Response("plain", status=201, mimetype="text/plain", headers={"X-A": "1"})

    response = client.get("/")
    assert (response.status_code, response.data, response.mimetype, response.headers["X-A"]) == (
        201,
        b"plain",
        "text/plain",
        "1",
    )
    assert response.headers["Content-Length"] == "5"


@pytest.mark.parametrize(
    ("value", "status", "header"),
    [
        (("made", 201), 201, None),
        (("made", {"X-T": "h"}), 200, "h"),
        (("made", [("X-T", "h")]), 200, "h"),
        (("made", 202, {"X-T": "h"}), 202, "h"),
        (({"k": "v"}, 400), 400, None),
    ],
)
def test_tuples(app: App, client: TestClient, value: tuple[Any, ...], status: int, header: str | None) -> None:
    app.add_route("/", lambda: value, endpoint="v")
    response = client.get("/")
    assert response.status_code == status
    assert response.headers.get("X-T") == header
    assert response.data in (b"made", b'{"k":"v"}')


def test_204_has_no_content_type(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: ("", 204), endpoint="v")
    response = client.get("/")
    assert response.status_code == 204
    assert "Content-Type" not in response.headers


def test_generator_streams_with_request_context(app: App) -> None:
    @app.get("/stream")
    def stream() -> Iterator[str]:
        def generate() -> Iterator[str]:
            for i in range(3):
                yield f"{request.args['tag']}{i};"

        return generate()

    client = app.test_client()
    response = client.get("/stream?tag=t", buffered=False)
    assert response.is_streamed
    assert "Content-Length" not in response.headers
    assert response.get_data(as_text=True) == "t0;t1;t2;"
    response.close()


def test_generator_view_function(app: App, client: TestClient) -> None:
    @app.get("/gen")
    def gen() -> Iterator[bytes]:
        yield b"a"
        yield b"b"

    assert client.get("/gen").data == b"ab"


def test_returning_none_is_a_logged_500_naming_the_view(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    def forgetful() -> None:
        pass

    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/")
    assert response.status_code == 500
    assert "forgetful" not in response.get_data(as_text=True)
    assert "The view 'forgetful' returned None" in caplog.text


@pytest.mark.parametrize("value", [("a", 200, {}, "extra"), object()])
def test_bad_return_values_are_500s(app: App, client: TestClient, value: Any) -> None:
    app.add_route("/", lambda: value, endpoint="v")
    assert client.get("/").status_code == 500


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect(app: App, client: TestClient, code: int) -> None:
    app.add_route("/", lambda: redirect("/there", code), endpoint="v")
    response = client.get("/")
    assert response.status_code == code
    assert response.headers["Location"] == "/there"


def test_redirect_default_is_302(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: redirect("/elsewhere"), endpoint="v")
    assert client.get("/").status_code == 302
