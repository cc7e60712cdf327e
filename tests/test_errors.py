"""Errors: abort, handlers by code and by class, HTML/JSON pages, 500s that leak nothing, debug."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from werkzeug.exceptions import HTTPException, NotFound

from microweb import App, abort, redirect, request
from microweb.testing import TestClient


class AppError(Exception):
    pass


class PaymentError(AppError):
    pass


def test_abort_with_code_and_description(app: App, client: TestClient) -> None:
    @app.get("/secret")
    def secret() -> str:
        abort(403, "Members <only>")
        return "never"

    response = client.get("/secret")
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "Members &lt;only&gt;" in text and "<only>" not in text
    assert response.mimetype == "text/html"


def test_abort_with_default_description(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: abort(404), endpoint="v")
    assert "The requested URL was not found" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "json_expected"),
    [
        ("application/json", True),
        ("application/json, text/html;q=0.5", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_http_errors_are_html_or_json_by_accept(
    app: App, client: TestClient, accept: str | None, json_expected: bool
) -> None:
    app.add_route("/gone", lambda: abort(410, "Moved away"), endpoint="v")
    headers = {"Accept": accept} if accept else {}
    for path, code, name in (("/gone", 410, "Gone"), ("/none", 404, "Not Found")):
        response = client.get(path, headers=headers)
        assert response.status_code == code
        if json_expected:
            assert response.mimetype == "application/json"
            error = response.json["error"]
            assert (error["code"], error["name"]) == (code, name)
            assert error["description"]
        else:
            assert response.mimetype == "text/html"
            assert f"<title>{code} {name}</title>" in response.get_data(as_text=True)


def test_json_405_keeps_allow_header(app: App, client: TestClient) -> None:
    app.add_route("/p", lambda: "p", methods=["POST"], endpoint="p")
    response = client.get("/p", headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert response.json["error"]["code"] == 405
    assert "POST" in response.headers["Allow"]


def test_handler_by_code(app: App, client: TestClient) -> None:
    @app.errorhandler(404)
    def not_found(error: HTTPException) -> tuple[str, int]:
        return f"custom {error.code}", 404

    assert client.get("/nope").get_data(as_text=True) == "custom 404"


def test_handler_by_class_most_specific_wins(app: App, client: TestClient) -> None:
    @app.errorhandler(AppError)
    def app_error(error: AppError) -> tuple[dict[str, str], int]:
        return {"handled": "AppError"}, 400

    @app.errorhandler(PaymentError)
    def payment_error(error: PaymentError) -> tuple[dict[str, str], int]:
        return {"handled": "PaymentError"}, 402

    def raise_(exc: Exception) -> Any:
        raise exc

    app.add_route("/pay", lambda: raise_(PaymentError()), endpoint="pay")
    app.add_route("/app", lambda: raise_(AppError()), endpoint="app")
    assert (client.get("/pay").status_code, client.get("/pay").json) == (402, {"handled": "PaymentError"})
    assert (client.get("/app").status_code, client.get("/app").json) == (400, {"handled": "AppError"})


def test_handler_by_http_exception_class(app: App, client: TestClient) -> None:
    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> tuple[str, int]:
        return "class handler", 404

    assert client.get("/missing").get_data(as_text=True) == "class handler"


def test_a_path_cannot_forge_log_lines(app: App, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/x/<name>")
    def boom(name: str) -> str:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR):
        assert client.get("/x/a%0D%0AERROR forged line%00").status_code == 500
    (record,) = [r for r in caplog.records if r.name == app.logger.name]
    assert record.getMessage() == "Exception on GET /x/a\\x0d\\x0aERROR forged line\\x00 [boom]"


def test_a_c1_control_in_the_path_cannot_split_a_log_line(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # %C2%85 is NEL (U+0085): str.splitlines() and log viewers end a line there, as at CR and LF.
    @app.get("/x/<name>")
    def boom(name: str) -> str:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR):
        assert client.get("/x/a%C2%85ERROR forged%C2%9Fline%C2%80").status_code == 500
    (record,) = [r for r in caplog.records if r.name.split(".")[0] == "microweb"]
    message = record.getMessage()
    assert message.splitlines() == [message]
    assert message == "Exception on GET /x/a\\x85ERROR forged\\x9fline\\x80 [boom]"


#: What each place returns, and the words the log must have for it: who returned it, and what it was.
BAD_RETURNS = [
    (42, "returned int, which is not a response"),
    (None, "returned None, which is not a response"),
    (("a", "two hundred"), "returned the status 'two hundred', which is no HTTP status"),
    (("a", 200, {"X": "1"}, "extra"), "returned a tuple of 4 items"),
    (("a", 200, 7), "returned the headers int, not a dict or a list of (name, value) pairs"),
]


WHO_RETURNS = [
    ("view", "The view 'page'"),
    ("before hook", "A before_request hook"),
    ("error handler", "The error handler for ValueError"),
    ("404 handler", "The error handler for NotFound"),
]


@pytest.mark.parametrize(
    ("where", "who", "rv", "said"),
    # A before hook's None is no answer: the view runs.
    [
        (*place, *bad)
        for place in WHO_RETURNS
        for bad in BAD_RETURNS
        if not (place[0] == "before hook" and bad[0] is None)
    ],
)
def test_a_return_that_is_no_response_is_a_500_whose_log_says_who_returned_what_and_what_is_valid(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, rv: Any, said: str, where: str, who: str
) -> None:
    @app.get("/page")
    def page() -> Any:
        if where == "error handler":
            raise ValueError("boom")
        return rv if where == "view" else "fine"

    if where == "before hook":
        app.before_request(lambda: rv)
    elif where == "error handler":
        app.errorhandler(ValueError)(lambda error: rv)
    elif where == "404 handler":
        app.errorhandler(404)(lambda error: rv)
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/missing" if where == "404 handler" else "/page")
    assert response.status_code == 500
    assert b"which is not" not in response.data and b"returned" not in response.data  # the details: in the log only
    errors = [str(r.exc_info[1]) for r in caplog.records if r.name.split(".")[0] == "microweb" and r.exc_info]
    assert any(f"{who} {said}" in text for text in errors), errors
    shapes = "return a str or bytes (HTML), a dict or list (JSON), an iterator (a stream), a Response, or a tuple"
    assert any(shapes in text for text in errors)


def test_uncaught_exception_is_generic_500_and_logged(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise ValueError("secret database password hunter2")

    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "hunter2" not in text and "Traceback" not in text and "ValueError" not in text
    records = [r for r in caplog.records if r.name == app.logger.name]
    assert len(records) == 1
    assert records[0].exc_info is not None and records[0].exc_info[0] is ValueError
    assert "GET /boom [boom]" in records[0].getMessage()


def test_500_handler_gets_the_original_exception(app: App, client: TestClient) -> None:
    @app.errorhandler(500)
    def server_error(error: Any) -> tuple[str, int]:
        return f"sorry ({type(error.original_exception).__name__})", 500

    app.add_route("/", lambda: 1 / 0, endpoint="v")
    assert client.get("/").get_data(as_text=True) == "sorry (ZeroDivisionError)"


def test_failing_error_handler_falls_back_to_generic_500(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.errorhandler(404)
    def broken(error: Any) -> str:
        raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/nowhere")
    assert response.status_code == 500
    assert "handler bug" not in response.get_data(as_text=True)
    assert "handler bug" in caplog.text


def test_500_as_json_for_json_clients(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: 1 / 0, endpoint="v")
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json["error"]["code"] == 500
    assert "ZeroDivision" not in json.dumps(response.json)


def test_debug_500_shows_escaped_traceback() -> None:
    app = App(debug=True)

    @app.get("/")
    def boom() -> str:
        raise KeyError("<script>alert(1)</script>")

    response = app.test_client().get("/")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" in text and "KeyError" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    app.debug = False
    assert "Traceback" not in app.test_client().get("/").get_data(as_text=True)


def test_standard_pages_match_werkzeugs_and_still_save_the_session(app: App, client: TestClient) -> None:
    from microweb import session

    app.add_route("/p", lambda: "p", methods=["POST"], endpoint="p")
    for path, exc in (("/nowhere", NotFound()), ("/p", None)):
        response = client.get(path)
        if exc is not None:
            assert response.data == exc.get_body().encode()
            assert response.headers["Content-Length"] == str(len(response.data))
    assert client.get("/p").status_code == 405

    @app.before_request
    def count_visits() -> None:
        session["visits"] = session.get("visits", 0) + 1

    client.get("/nowhere")
    client.get("/nowhere")
    assert "Set-Cookie" in client.get("/nowhere").headers


# ---------------------------------------------------------------- pages echo nothing unescaped

XSS = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'


def test_abort_description_from_the_request_is_escaped_in_html_and_plain_data_in_json(
    app: App, client: TestClient
) -> None:
    @app.get("/check")
    def check() -> str:
        abort(400, f"Bad value: {request.args['v']}")

    html_page = client.get("/check", query_string={"v": XSS})
    assert html_page.status_code == 400 and html_page.mimetype == "text/html"
    text = html_page.get_data(as_text=True)
    assert "<script>" not in text and "<img" not in text
    assert "Bad value: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&lt;img" in text
    json_page = client.get("/check", query_string={"v": XSS}, headers={"Accept": "application/json"})
    assert json_page.mimetype == "application/json"  # never rendered as HTML by a browser
    assert json_page.json["error"]["description"] == f"Bad value: {XSS}"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_404_and_405_pages_do_not_echo_the_path(app: App, client: TestClient, method: str) -> None:
    app.add_route("/<path:anything>", lambda anything: "x", methods=["PUT"], endpoint="put_only")
    for path, code in (("/" + XSS, 405), ("/%3Cscript%3E", 405)):
        response = client.open(path, method=method)
        assert response.status_code == code
        assert b"<script" not in response.data and b"&lt;script" not in response.data
    missing = App().test_client().open("/" + XSS, method=method)
    assert missing.status_code == 404 and b"script" not in missing.data


def test_redirect_page_escapes_the_location(app: App, client: TestClient) -> None:
    app.add_route("/go", lambda: redirect("/next?to=" + request.args["to"]), endpoint="go")
    response = client.get("/go", query_string={"to": XSS})
    assert response.status_code == 302
    assert b"<script" not in response.data and b"&lt;script&gt;" in response.data


def test_debug_page_escapes_the_exception_message_and_source_lines() -> None:
    app = App(debug=True)

    @app.get("/")
    def boom() -> str:
        raise ValueError(XSS)  # the line itself, shown in the traceback, has <, > and & too

    text = app.test_client().get("/").get_data(as_text=True)
    assert "ValueError" in text and "raise ValueError(XSS)" in text
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text


# ---------------------------------------------------------------- debug pages only with debug=True


def test_500_without_debug_shows_nothing_of_the_error() -> None:
    app = App()

    @app.get("/")
    def boom() -> str:
        raise RuntimeError("connection string postgres://admin:s3cret@db")

    for accept in ("text/html", "application/json"):
        response = app.test_client().get("/", headers={"Accept": accept})
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        for leak in ("s3cret", "RuntimeError", "Traceback", "boom", __file__, "line "):
            assert leak not in body, leak


def test_no_interactive_debugger_even_in_debug_mode() -> None:
    app = App(debug=True)
    app.add_route("/", lambda: "home", endpoint="home")
    app.add_route("/boom", lambda: 1 / 0, endpoint="boom")
    assert app.wsgi_app.__func__ is App.wsgi_app  # type: ignore[attr-defined]  # nothing wrapped around the app
    client = app.test_client()
    page = client.get("/boom").get_data(as_text=True)
    assert "ZeroDivisionError" in page  # the debug page ...
    assert "__debugger__" not in page and "<script" not in page and "SECRET" not in page  # ... with no console
    # Werkzeug's debugger would answer these itself; here the app's own views do.
    assert client.get("/?__debugger__=yes&cmd=resource&f=debugger.js").data == b"home"
    assert client.get("/console").status_code == 404


def test_werkzeug_debugger_is_never_imported() -> None:
    code = (
        "import sys; from microweb import App; import microweb.cli, microweb.serving, microweb.csrf\n"
        "app = App(debug=True); app.add_route('/', lambda: 1 / 0, endpoint='boom')\n"
        "print(app.test_client().get('/').status_code, 'werkzeug.debug' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["500", "False"], done.stderr


def test_the_debug_page_goes_to_loopback_clients_only() -> None:
    # A second line behind the debug-host check: servers started without run() (gunicorn mod:app) skip that.
    app = App(__name__, debug=True)

    def crash() -> str:
        raise ValueError("hunter2")

    app.add_route("/crash", crash, endpoint="crash")
    client = app.test_client()
    remote = client.get("/crash", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 500 and b"hunter2" not in remote.data and b"Traceback" not in remote.data
    for address in ["127.0.0.1", "127.8.9.10", "::1"]:
        assert b"hunter2" in client.get("/crash", environ_base={"REMOTE_ADDR": address}).data
    app.config["DEBUG_REMOTE"] = True  # what run(allow_remote_debug=True) sets
    assert b"hunter2" in client.get("/crash", environ_base={"REMOTE_ADDR": "192.0.2.7"}).data
