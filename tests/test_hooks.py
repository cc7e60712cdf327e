"""Hooks: before (short-circuit), after (sees and replaces the response), teardown (always)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from microweb import App, Response, request
from microweb.testing import TestClient


def test_order_before_view_after_teardown(app: App, client: TestClient) -> None:
    calls: list[str] = []

    @app.before_request
    def before() -> None:
        calls.append("before")

    @app.get("/")
    def view() -> str:
        calls.append("view")
        return "v"

    @app.after_request
    def after(response: Response) -> Response:
        calls.append("after")
        return response

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        calls.append(f"teardown:{error}")

    client.get("/")
    assert calls == ["before", "view", "after", "teardown:None"]


def test_before_request_short_circuits(app: App, client: TestClient) -> None:
    views: list[str] = []

    @app.before_request
    def gate() -> Any:
        if request.args.get("key") != "k":
            return "denied", 403
        return None

    @app.get("/")
    def view() -> str:
        views.append("ran")
        return "welcome"

    assert client.get("/").status_code == 403
    assert views == []
    assert client.get("/?key=k").get_data(as_text=True) == "welcome"


def test_before_request_runs_for_unmatched_paths_too(app: App, client: TestClient) -> None:
    @app.before_request
    def force_https() -> Any:
        if request.headers.get("X-Proto") == "http":
            return "use https", 400
        return None

    assert client.get("/not/a/route", headers={"X-Proto": "http"}).status_code == 400
    assert client.get("/not/a/route").status_code == 404


def test_after_request_can_replace_and_edit(app: App, client: TestClient) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.after_request
    def replace(response: Response) -> Response:
        if request.path == "/replace":
            return Response("replaced")
        return response

    app.add_route("/", lambda: {"a": 1}, endpoint="v")
    app.add_route("/replace", lambda: "original", endpoint="r")
    assert client.get("/").headers["X-Frame-Options"] == "DENY"
    assert client.get("/").json == {"a": 1}
    assert client.get("/replace").data == b"replaced"
    # after hooks see error responses too
    assert client.get("/missing").headers["X-Frame-Options"] == "DENY"


def test_teardown_runs_after_errors_and_gets_the_exception(app: App, client: TestClient) -> None:
    seen: list[BaseException | None] = []
    app.teardown_request(seen.append)

    @app.get("/boom")
    def boom() -> str:
        raise LookupError("x")

    @app.get("/fine")
    def fine() -> str:
        return "fine"

    assert client.get("/boom").status_code == 500
    assert client.get("/fine").status_code == 200
    assert isinstance(seen[0], LookupError) and seen[1] is None


def test_teardown_runs_after_failing_before_and_after_hooks(app: App, client: TestClient) -> None:
    seen: list[str] = []
    app.teardown_request(lambda error: seen.append(type(error).__name__))
    app.add_route("/", lambda: "v", endpoint="v")

    @app.after_request
    def after(response: Response) -> Response:
        if request.args.get("fail") == "after":
            raise OSError("after")
        return response

    @app.before_request
    def before() -> None:
        if request.args.get("fail") == "before":
            raise OSError("before")

    assert client.get("/?fail=before").status_code == 500
    assert client.get("/?fail=after").status_code == 500
    assert seen == ["OSError", "OSError"]


def test_failing_teardown_is_logged_and_others_still_run(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @app.teardown_request
    def broken(error: BaseException | None) -> None:
        raise RuntimeError("teardown bug")

    @app.teardown_request
    def second(error: BaseException | None) -> None:
        ran.append(type(error).__name__)

    @app.get("/")
    def view() -> str:
        raise ValueError("original")

    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/")
    assert response.status_code == 500
    assert ran == ["ValueError"]  # the original error, not hidden by the failing teardown
    assert "teardown bug" in caplog.text and "original" in caplog.text


def test_teardown_of_a_stream_runs_when_the_body_is_closed(app: App) -> None:
    events: list[str] = []
    app.teardown_request(lambda error: events.append(f"teardown:{error}"))

    @app.get("/stream")
    def stream() -> Any:
        def generate() -> Any:
            events.append(f"chunk for {request.path}")
            yield "a"
            events.append("last chunk")
            yield "b"

        return generate()

    response = app.test_client().get("/stream", buffered=False)
    assert events in ([], ["chunk for /stream"])  # Werkzeug's client may pull the first chunk early
    assert response.get_data() == b"ab"
    assert events == ["chunk for /stream", "last chunk"]
    response.close()
    assert events[-1] == "teardown:None"


def test_after_hooks_get_a_response_for_every_kind_of_result(app: App, client: TestClient) -> None:
    from werkzeug.wrappers import Response as WerkzeugResponse

    from microweb import abort, redirect

    seen: dict[str, str] = {}

    @app.after_request
    def record(response: WerkzeugResponse) -> WerkzeugResponse:
        assert isinstance(response, WerkzeugResponse)
        seen[request.path] = f"{response.status_code} {response.mimetype}"
        response.headers["X-Seen"] = "yes"
        return response

    app.add_route("/str", lambda: "text", endpoint="str")
    app.add_route("/dict", lambda: {"a": 1}, endpoint="dict")
    app.add_route("/tuple", lambda: ("made", 201, {"X-A": "b"}), endpoint="tuple")
    app.add_route("/iter", lambda: iter(["a", "b"]), endpoint="iter")
    app.add_route("/redirect", lambda: redirect("/str"), endpoint="redirect")
    app.add_route("/abort", lambda: abort(418), endpoint="abort")
    app.add_route("/error", lambda: 1 / 0, endpoint="error")
    expected = {
        "/str": "200 text/html",
        "/dict": "200 application/json",
        "/tuple": "201 text/html",
        "/iter": "200 text/html",
        "/redirect": "302 text/html",
        "/abort": "418 text/html",
        "/error": "500 text/html",
        "/missing": "404 text/html",
    }
    for path in expected:
        assert client.get(path).headers["X-Seen"] == "yes"
    assert seen == expected


def test_hooks_changed_after_the_first_request_take_effect_at_the_next(app: App, client: TestClient) -> None:
    calls: list[str] = []
    app.add_route("/", lambda: (calls.append("view"), "v")[1], endpoint="home")
    assert client.get("/").data == b"v" and calls == ["view"]

    def before(name: str) -> Any:
        return lambda: calls.append(f"before {name}")

    def after(name: str) -> Any:
        def hook(response: Response) -> Response:
            calls.append(f"after {name}")
            return response

        return hook

    app.before_request(before("1"))
    app.after_request(after("1"))
    app.teardown_request(lambda error: calls.append("teardown 1"))
    calls.clear()
    client.get("/")
    assert calls == ["before 1", "view", "after 1", "teardown 1"]

    # Every way of changing the lists in place counts, not only the decorators.
    app.before_request_funcs.insert(0, before("0"))
    app.after_request_funcs += [after("2")]
    app.teardown_request_funcs.clear()
    calls.clear()
    client.get("/")
    assert calls == ["before 0", "before 1", "view", "after 1", "after 2"]

    del app.before_request_funcs[0]
    app.after_request_funcs[0:1] = []
    app.after_request_funcs.reverse()  # one hook left: the order is the same, but the chain is made again
    calls.clear()
    client.get("/")
    assert calls == ["before 1", "view", "after 2"]

    app.before_request_funcs = []  # replaced outright
    app.after_request_funcs.pop()
    calls.clear()
    client.get("/")
    client.get("/missing")  # an unmatched request has the app's hooks too: none left
    assert calls == ["view"]


def test_a_removed_hook_stops_at_once_for_unmatched_requests_too(app: App, client: TestClient) -> None:
    def refuse() -> Any:
        return "refused", 403

    app.before_request(refuse)
    assert client.get("/nowhere").status_code == 403
    app.before_request_funcs.remove(refuse)
    assert client.get("/nowhere").status_code == 404
