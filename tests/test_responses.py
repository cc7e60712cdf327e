"""View return values become responses: types, tuples, streaming, None, Content-Length."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from microweb import App, Response, redirect, request
from microweb.testing import TestClient

from support import live_server, raw_request, validated_client


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


def test_an_after_hook_sees_the_same_response_it_would_send(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: {"x": "y"}, endpoint="v")
    app.after_request(lambda response: response)
    response = client.get("/")
    assert (response.data, response.headers["Content-Type"], response.headers["Content-Length"]) == (
        b'{"x":"y"}',
        "application/json",
        "9",
    )


def test_json_with_a_lone_surrogate_is_escaped_not_a_500(app: App, client: TestClient) -> None:
    # json.loads accepts "\ud800", so a view that echoes a client's JSON may return one; it is not UTF-8.
    app.add_route("/", lambda: {"echo": request.json}, methods=["POST"], endpoint="v")
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


# ---------------------------------------------------------------- no header injection

INJECTED = "ok\r\nSet-Cookie: pwned=1"
#: Header values no response may carry: what Werkzeug refuses itself (CR, LF) and what it lets through.
BAD_VALUES = [INJECTED, "ok\npwned", "ok\rpwned", "ok\x00pwned", "ok\x01pwned", "ok\x7fpwned", "€pwned"]
BAD_NAMES = ["X-Bad\r\nSet-Cookie", "X-Bad: pwned", "X Bad", ""]


def _sets_header(app: App, where: str, name: str, value: str) -> None:
    """Route ``/`` so that the header is set by a view, a hook, an error handler or a streamed response."""

    def with_header(response: Response) -> Response:
        response.headers[name] = value
        return response

    if where == "view tuple":
        app.add_route("/", lambda: ("body", {name: value}), endpoint="v")
    elif where == "view response":
        app.add_route("/", lambda: with_header(Response("body")), endpoint="v")
    elif where == "streamed response":
        app.add_route("/", lambda: with_header(Response(iter([b"a", b"b"]))), endpoint="v")
    elif where == "before hook":
        app.before_request(lambda: with_header(Response("early")))
    elif where == "after hook":
        app.add_route("/", lambda: "body", endpoint="v")
        app.after_request(with_header)
    elif where == "error handler":
        app.errorhandler(404)(lambda error: ("missing", 404, {name: value}))


WHERE = ["view tuple", "view response", "streamed response", "before hook", "after hook", "error handler"]


def _refused(client: TestClient, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/")
    assert response.status_code == 500
    assert b"pwned" not in response.data and "Set-Cookie" not in response.headers
    records = [record for record in caplog.records if record.name.split(".")[0] == "microweb"]
    assert records, "a refused header is logged"
    return records


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_header_value_that_could_inject_is_a_logged_500_not_echoed(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, where: str, value: str
) -> None:
    _sets_header(app, where, "X-Note", value)
    _refused(client, caplog)  # the validating client also checks that no control character went out
    assert "pwned" not in caplog.text  # neither in the log: a value may be anything a client sent


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_header_name_that_is_not_a_token_is_a_logged_500(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, where: str, name: str
) -> None:
    _sets_header(app, where, name, "fine")
    records = _refused(client, caplog)
    if "\r" not in name and "\n" not in name:  # Werkzeug lets these through: microweb names them
        assert any(repr(name) in str(record.exc_info[1]) for record in records if record.exc_info)


@pytest.mark.parametrize("where", ["view tuple", "view response", "after hook"])
def test_the_log_names_the_refused_header(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    _sets_header(app, where, "X-Note", "ok\x00pwned")
    message = str(_refused(client, caplog)[0].exc_info[1])  # type: ignore[index]
    assert "'X-Note'" in message and "refused" in message


def test_a_view_tuple_header_with_crlf_is_named_too(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Werkzeug refuses it without saying which header; microweb checks a view's headers first.
    _sets_header(app, "view tuple", "X-Note", INJECTED)
    assert "'X-Note'" in str(_refused(client, caplog)[0].exc_info[1])  # type: ignore[index]


def test_a_status_line_with_crlf_is_refused(app: App, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    def view() -> Response:
        response = Response("body")
        response.status = "299 " + INJECTED  # Werkzeug keeps a reason phrase as it is given
        return response

    app.add_route("/", view, endpoint="v")
    assert "status" in str(_refused(client, caplog)[0].exc_info[1])  # type: ignore[index]


def test_http_error_headers_are_checked_on_standard_pages_too(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A standard 401 page is made from a body kept per class: its headers are still the request's own.
    def view() -> str:
        raise Unauthorized(www_authenticate=WWWAuthenticate("basic", {"realm": request.args["realm"]}))

    app.add_route("/", view, endpoint="v")
    ok = client.get("/?realm=shop")
    assert (ok.status_code, ok.headers["WWW-Authenticate"]) == (401, "Basic realm=shop")
    for realm in ["a%0D%0ASet-Cookie:%20pwned=1", "a%00pwned"]:
        with caplog.at_level(logging.ERROR, logger="microweb"):
            response = client.get(f"/?realm={realm}")
        assert response.status_code == 500 and b"pwned" not in response.data
        assert "'WWW-Authenticate'" in caplog.text and "pwned" not in caplog.text
        caplog.clear()


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/a\r\nSet-Cookie: pwned=1", "/a%0D%0ASet-Cookie:%20pwned=1"),
        ("/\n/evil.example", "/%0A/evil.example"),  # encoded, not dropped: dropping it makes //evil.example
        ("\t//evil.example", "%09//evil.example"),
        ("/a\x00b\x7f", "/a%00b%7F"),
        ("/a b", "/a%20b"),
        ("/ü/€?q=€#€", "/%C3%BC/%E2%82%AC?q=%E2%82%AC#%E2%82%AC"),
        ("http://bücher.example/x y", "http://xn--bcher-kva.example/x%20y"),
        ("/already%20encoded", "/already%20encoded"),
    ],
)
def test_redirect_to_a_target_from_the_request_cannot_inject(
    app: App, client: TestClient, target: str, location: str
) -> None:
    app.add_route("/go", lambda: redirect(request.args["next"]), endpoint="go")
    response = client.get("/go", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == location
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("target", ["http://[", "http://a:99999/", "http://" + "a" * 64 + ".example/"])
def test_redirect_to_something_that_is_no_url_is_a_logged_500(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    # Refused before sending: Werkzeug would fail only while sending, past every handler.
    app.add_route("/go", lambda: redirect(request.args["next"]), endpoint="go")
    with caplog.at_level(logging.ERROR, logger="microweb"):
        assert client.get("/go", query_string={"next": target}).status_code == 500
    assert "'Location' is not a URL" in caplog.text


def test_a_location_header_that_is_no_url_is_refused_before_sending(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.add_route("/", lambda: Response("", 302, headers={"Location": "http://["}), endpoint="v")
    assert "'Location' is not a URL" in str(_refused(client, caplog)[0].exc_info[1])  # type: ignore[index]


def test_cookie_values_from_the_request_are_quoted(app: App, client: TestClient) -> None:
    def view() -> Response:
        response = Response("body")
        response.set_cookie("note", request.args["v"])
        return response

    app.add_route("/", view, endpoint="v")
    response = client.get("/", query_string={"v": INJECTED})
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == ['note="ok\\015\\012Set-Cookie: pwned=1"; Path=/']


@pytest.mark.parametrize("attribute", ["key", "domain"])
def test_cookie_names_and_attributes_that_could_inject_are_refused(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, attribute: str
) -> None:
    def view() -> Response:
        response = Response("body")
        if attribute == "key":
            response.set_cookie(INJECTED, "v")
        else:
            response.set_cookie("note", "v", domain="example.com\x00pwned")
        return response

    app.add_route("/", view, endpoint="v")
    _refused(client, caplog)


# ---------------------------------------------------------------- hop-by-hop headers


@pytest.mark.parametrize("name", ["Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "TE", "Trailer"])
def test_a_hop_by_hop_header_is_refused_before_the_commit(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    # PEP 3333 forbids them to applications: wsgiref and waitress raised in start_response after the
    # resource had committed, so the client got a 500 for a write that happened.
    done: list[str] = []

    @app.resource
    def db() -> Iterator[None]:
        try:
            yield None
            done.append("commit")
        except Exception:
            done.append("rollback")
            raise

    def view() -> tuple[str, dict[str, str]]:
        db()
        return "written", {name: "close"}

    app.add_route("/", view, endpoint="v")
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/")
    assert response.status_code == 500 and done == ["rollback"]
    assert repr(name) in caplog.text and "hop-by-hop" in caplog.text


def test_a_hop_by_hop_header_from_an_after_hook_is_refused_over_a_real_server(app: App) -> None:
    app.add_route("/", lambda: "ok", endpoint="v")

    @app.after_request
    def keep_alive(response: Response) -> Response:
        response.headers["Connection"] = "keep-alive"
        return response

    with live_server(app) as port:
        head, body = raw_request(port, "GET", "/")
    assert head.startswith(b"HTTP/1.0 500") and b"keep-alive" not in head
    assert b"Traceback" not in body


# ---------------------------------------------------------------- cookies named from the request

_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_INJECTIONS = ["x; Domain=evil.example", "x=1; Max-Age=99999; y", "x=1; Domain=evil.example; Secure", "a b", "x\r\ny"]
_NAME = st.one_of(st.sampled_from(_INJECTIONS), st.text(alphabet=st.sampled_from(list('aZ09-_ ;=,"\\é\t')), max_size=8))


def _browser_reads(header: str) -> tuple[str, str, list[str]]:
    """A Set-Cookie value as a browser reads it (RFC 6265 5.2): name, value, attribute names (lower case)."""
    pair, *attributes = header.split(";")
    name, _, value = pair.partition("=")
    return name.strip(" \t"), value.strip(" \t"), [a.partition("=")[0].strip(" \t").lower() for a in attributes]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAME, value=st.text(max_size=12).map("SECRET".__add__))
def test_a_cookie_named_from_the_request_cannot_add_attributes(
    app: App, caplog: pytest.LogCaptureFixture, name: str, value: str
) -> None:
    # set_cookie(name_from_request, ...): Werkzeug writes the name as it is, so "x; Domain=evil" set a Domain.
    if "set_named" not in app.view_functions:

        @app.get("/set")
        def set_named() -> Response:
            response = Response("set")
            response.set_cookie(request.args["n"], request.args["v"])
            return response

        @app.get("/get")
        def get_named() -> dict[str, Any]:
            return {"value": request.cookies.get(request.args["n"])}

    client = validated_client(app, use_cookies=False)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.get("/set", query_string={"n": name, "v": value})
    if name and set(name) <= _TCHARS:
        assert response.status_code == 200
        (header,) = response.headers.getlist("Set-Cookie")
        read_name, read_value, attributes = _browser_reads(header)
        assert (read_name, attributes) == (name, ["path"])  # no Domain, Max-Age or anything else of its own
        back = client.get("/get", query_string={"n": name}, headers={"Cookie": f"{read_name}={read_value}"})
        assert back.json == {"value": value}
    else:
        assert response.status_code == 500 and "Set-Cookie" not in response.headers
        (record,) = [r for r in caplog.records if r.name.split(".")[0] == "microweb"]
        assert record.exc_info is not None and repr(name[:100]) in str(record.exc_info[1])  # the log names it
        assert "SECRET" not in caplog.text  # but never shows the value


# ---------------------------------------------------------------- the review's findings (issue 16's last round)


def _sent(response: Any) -> tuple[list[Any], bytes]:
    from werkzeug.test import EnvironBuilder

    started: list[Any] = []
    body = b"".join(response(EnvironBuilder().get_environ(), lambda s, h, e=None: started.append((s, list(h)))))
    return started, body


def test_a_subclass_default_status_is_sent_as_werkzeug_sends_it() -> None:
    from werkzeug.wrappers import Response as WerkzeugResponse

    class Created(Response):
        default_status = 201

    class WerkzeugCreated(WerkzeugResponse):
        default_status = 201

    for args, kwargs in [(("x",), {}), ((b"x",), {"mimetype": "text/plain"}), (("x",), {"content_type": "text/html"})]:
        assert _sent(Created(*args, **kwargs)) == _sent(WerkzeugCreated(*args, **kwargs))
    assert _sent(Created("x"))[0][0][0] == "201 CREATED"


@pytest.mark.parametrize("method", ["get_wsgi_headers", "get_wsgi_response", "get_app_iter"])
def test_a_subclass_own_send_methods_are_used(method: str) -> None:
    def get_wsgi_headers(self: Any, environ: Any) -> Any:
        headers = Response.get_wsgi_headers(self, environ)
        headers["X-Added"] = "1"
        return headers

    def get_wsgi_response(self: Any, environ: Any) -> Any:
        app_iter, status, headers = Response.get_wsgi_response(self, environ)
        return app_iter, status, [*headers, ("X-Added", "1")]

    def get_app_iter(self: Any, environ: Any) -> Any:
        return [b"own body"]

    own = {"get_wsgi_headers": get_wsgi_headers, "get_wsgi_response": get_wsgi_response, "get_app_iter": get_app_iter}
    Own = type("Own", (Response,), {method: own[method]})
    for response in (Own("x"), Own("x", headers={"X-A": "1"}), Own(iter(["x"]), mimetype="text/plain")):
        started, body = _sent(response)
        if method == "get_app_iter":
            assert body == b"own body"
        else:
            assert ("X-Added", "1") in started[0][1]
    assert Response.__call__ is not Own.__call__  # microweb's own class keeps its shortcuts


@pytest.mark.parametrize(
    "header", [("X-A", "a\r\nSet-Cookie: evil=1"), ("Location", "/a\r\nSet-Cookie: evil=1"), ("X-A", "a\x00b")]
)
def test_response_of_refuses_extra_headers_that_must_not_be_sent(header: tuple[str, str], caplog: Any) -> None:
    with pytest.raises(ValueError, match="the response is refused"):
        Response.of(b"x", "text/html; charset=utf-8", 200, [header])
    app = App(__name__)
    app.add_route("/", lambda: Response.of(b"x", "text/html; charset=utf-8", 200, [header]), endpoint="index")
    with caplog.at_level(logging.ERROR, logger="microweb"):
        reply = validated_client(app).get("/")
    assert reply.status_code == 500 and "evil" not in str(reply.headers) and "\x00" not in str(reply.headers)
    assert "the response is refused" in caplog.text


def test_response_of_keeps_status_and_headers_in_a_class_that_sends_no_length() -> None:
    class NoLength(Response):
        automatically_set_content_length = False

    response = NoLength.of(b"x", "text/plain; charset=utf-8", 404, [("X-A", "1")])
    assert response.status_code == 404 and response.headers["X-A"] == "1"
    assert "Content-Length" not in response.headers
