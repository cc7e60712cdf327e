"""The request proxy: context-local, JSON bodies, forms, body size limits."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder

from microweb import App, request, url_for
from microweb.csrf import protect
from microweb.testing import TestClient

from support import SECRET, validated_client


def test_request_outside_a_request_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="only available while a request is being handled"):
        request.args  # noqa: B018


def test_query_form_and_headers(app: App, client: TestClient) -> None:
    @app.post("/f")
    def f() -> dict[str, Any]:
        return {"q": request.args["q"], "name": request.form["name"], "ua": request.headers["User-Agent"]}

    data = client.post("/f?q=%C3%BC", data={"name": "Ann"}, headers={"User-Agent": "t/1"}).json
    assert data == {"q": "ü", "name": "Ann", "ua": "t/1"}


def test_json_body(app: App, client: TestClient) -> None:
    @app.post("/j")
    def j() -> Any:
        return {"got": request.json}

    assert client.post("/j", json={"a": [1, 2]}).json == {"got": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b'{"a": ', "application/json", 400, "Failed to decode JSON"),
        (b"\xff\xfe", "application/json", 400, "Failed to decode JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", 400, "nested too deeply"),
        (b"1" * 5000, "application/json", 400, "Failed to decode JSON"),  # past int()'s digit limit
        (b'{"a": 1}', "text/plain", 415, "Content-Type was not"),
        (b'{"a": 1}', "", 415, "Content-Type was not"),
    ],
)
def test_bad_json_is_a_clear_4xx(
    app: App, client: TestClient, body: bytes, content_type: str, status: int, message: str
) -> None:
    @app.post("/j")
    def j() -> Any:
        return {"got": request.json}

    @app.post("/silent")
    def silent() -> Any:
        return {"got": request.get_json(silent=True)}

    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/j", data=body, headers=headers)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.post("/silent", data=body, headers=headers).json == {"got": None}


class _Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def test_max_content_length_is_a_413_before_the_body_is_read() -> None:
    app = App(max_content_length=10)
    seen = []

    @app.post("/upload")
    def upload() -> str:
        seen.append(request.get_data())
        return "ok"

    environ = EnvironBuilder(path="/upload", method="POST").get_environ()
    environ["wsgi.input"] = _Unreadable()
    environ["CONTENT_LENGTH"] = "11"
    environ["CONTENT_TYPE"] = "application/octet-stream"
    statuses = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == ["413"]
    assert b"larger than the limit of 10 bytes" in body
    assert seen == []

    client = app.test_client()
    assert client.post("/upload", data=b"x" * 10).get_data() == b"ok"
    assert client.post("/upload", data=b"x" * 11).status_code == 413


#: Content-Lengths past what int() reads (4,300 digits) or any stream takes (sys.maxsize): a 413.
HUGE_LENGTHS = ["9" * 4301, "1" + "0" * 5000, "9" * 30, str(2**63)]
#: Content-Lengths that are no number (RFC 9112 6.3): a 400.
BAD_LENGTHS = ["12abc", "-1", "+5", "1e3", "\u00b2", "0x10"]


#: Each way a view meets the Content-Length.
LENGTH_READERS: dict[str, Callable[[], Any]] = {
    "form": lambda: request.form,
    "get_data": lambda: request.get_data(),
    "get_json": lambda: request.get_json(force=True),
    "content_length": lambda: request.content_length,
    "stream": lambda: request.stream.read(),
}


@pytest.mark.parametrize("reads", LENGTH_READERS)
@pytest.mark.parametrize("limit", [None, 1000])
@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protect(app)"])
@pytest.mark.parametrize("length", HUGE_LENGTHS + BAD_LENGTHS, ids=lambda length: f"{length[:8]}..{len(length)}")
def test_a_content_length_that_cannot_be_read_is_a_400_or_413_never_a_500(
    length: str, protected: bool, limit: int | None, reads: str, caplog: pytest.LogCaptureFixture
) -> None:
    # More than 4,300 digits on a urlencoded POST raised in int(): a 500. Werkzeug reads both kinds as 0.
    app = App(secret_key=SECRET, max_content_length=limit)
    if protected:
        protect(app)

    @app.post("/form")
    def form() -> str:
        return repr(LENGTH_READERS[reads]())

    client = app.test_client()  # not validated: wsgiref.validate itself calls int() on CONTENT_LENGTH
    with caplog.at_level(logging.ERROR, logger="microweb"):
        response = client.post(
            "/form",
            data=b"a=1",
            content_type="application/x-www-form-urlencoded",
            environ_overrides={"CONTENT_LENGTH": length},
        )
    assert response.status_code == (413 if length in HUGE_LENGTHS else 400)
    assert not [r for r in caplog.records if r.name.split(".")[0] == "microweb"]  # nothing failed on the way


#: A view for each way of reading a body: each must meet the body limit before reading.
CONSUMERS = {
    "application/json": lambda: {"json": request.json},
    "application/x-www-form-urlencoded": lambda: {"form": request.form.to_dict()},
    "multipart/form-data; boundary=b": lambda: {"files": list(request.files)},
    "application/octet-stream": lambda: {"length": len(request.get_data())},
}


@pytest.mark.parametrize("content_type", list(CONSUMERS))
def test_every_kind_of_body_over_the_limit_is_a_413_before_it_is_read(content_type: str) -> None:
    app = App(max_content_length=1000)
    app.add_route("/", CONSUMERS[content_type], methods=["POST"], endpoint="v")
    environ = EnvironBuilder(path="/", method="POST").get_environ()
    environ.update({"wsgi.input": _Unreadable(), "CONTENT_LENGTH": "1001", "CONTENT_TYPE": content_type})
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == ["413"]


class _Endless(io.RawIOBase):
    """A body with no end, as a client streaming it chunked could send; counts what was read."""

    read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.read_bytes += len(buffer)
        buffer[:] = b"x" * len(buffer)
        return len(buffer)


@pytest.mark.parametrize("content_type", list(CONSUMERS))
def test_a_body_without_a_length_is_cut_at_the_limit(content_type: str) -> None:
    # Chunked: the server ends the stream (wsgi.input_terminated) and the limit is checked while reading.
    app = App(max_content_length=100_000)
    app.add_route("/", CONSUMERS[content_type], methods=["POST"], endpoint="v")
    body = _Endless()
    environ = EnvironBuilder(path="/", method="POST").get_environ()
    environ.update({"wsgi.input": body, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    environ["CONTENT_TYPE"] = content_type
    environ.pop("CONTENT_LENGTH", None)
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == ["413"]
    assert body.read_bytes <= 100_000 + 64 * 1024  # the limit, and at most one buffer beyond it


@pytest.mark.parametrize(("size", "status"), [(99_999, "200"), (100_000, "200"), (100_001, "413")])
def test_a_body_without_a_length_up_to_the_limit_is_read_whole(size: int, status: str) -> None:
    app = App(max_content_length=100_000)
    app.add_route("/", CONSUMERS["application/octet-stream"], methods=["POST"], endpoint="v")
    environ = EnvironBuilder(path="/", method="POST").get_environ()
    environ.update({"wsgi.input": io.BytesIO(b"x" * size), "wsgi.input_terminated": True})
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": "application/octet-stream"})
    environ.pop("CONTENT_LENGTH", None)
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == [status]
    if status == "200":
        assert body == b'{"length":%d}' % size


@pytest.mark.parametrize("limit", [None, 1000])
@pytest.mark.parametrize("content_type", list(CONSUMERS))
def test_a_body_cut_short_is_a_400_even_where_the_server_ends_the_stream(content_type: str, limit: int | None) -> None:
    # gunicorn sets wsgi.input_terminated and ends the stream early when the client goes away mid-body.
    app = App(max_content_length=limit)
    app.add_route("/", CONSUMERS[content_type], methods=["POST"], endpoint="v")
    environ = EnvironBuilder(path="/", method="POST").get_environ()
    environ.update({"wsgi.input": io.BytesIO(b'{"a":1}'), "wsgi.input_terminated": True})  # valid, but short
    environ.update({"CONTENT_LENGTH": "100", "CONTENT_TYPE": content_type})
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == ["400"]


def test_max_content_length_also_limits_form_parsing() -> None:
    app = App(max_content_length=100)

    @app.post("/form")
    def form() -> str:
        return request.form.get("a", "")

    client = app.test_client()
    assert client.post("/form", data={"a": "x" * 50}).get_data() == b"x" * 50
    assert client.post("/form", data={"a": "x" * 200}).status_code == 413


def test_form_memory_limits_are_413s(app: App, client: TestClient) -> None:
    app.config["MAX_FORM_MEMORY_SIZE"] = 100
    app.config["MAX_FORM_PARTS"] = 3

    @app.post("/form")
    def form() -> str:
        return ",".join(request.form)

    big = {"a": "x" * 200}
    many = {f"k{i}": "v" for i in range(10)}
    assert client.post("/form", data=big, content_type="multipart/form-data").status_code == 413
    assert client.post("/form", data=many, content_type="multipart/form-data").status_code == 413
    assert client.post("/form", data={"a": "1", "b": "2"}).get_data() == b"a,b"


@pytest.mark.parametrize(("memory_limit", "status"), [(65_536, 200), (65_535, 413)])
def test_files_are_not_held_to_the_form_memory_limit_from_64_kib_up(
    app: App, client: TestClient, memory_limit: int, status: int
) -> None:
    # As the manual says: Werkzeug checks each 64 KiB piece of a multipart body against the limit.
    app.config["MAX_FORM_MEMORY_SIZE"] = memory_limit
    app.add_route("/", lambda: str(len(request.files["f"].read())), methods=["POST"], endpoint="v")
    response = client.post("/", data={"f": (io.BytesIO(b"x" * 200_000), "f.bin")})
    assert response.status_code == status


def test_non_numeric_content_length_is_a_400() -> None:
    app = App(max_content_length=10)
    app.add_route("/", lambda: "ok", methods=["POST"], endpoint="v")
    environ = EnvironBuilder(path="/", method="POST", data=b"abc").get_environ()
    environ["CONTENT_LENGTH"] = "lots"
    statuses: list[str] = []
    app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    assert [status.split()[0] for status in statuses] == ["400"]


def test_request_is_context_local_across_threads(app: App) -> None:
    barrier = threading.Barrier(8, timeout=10)

    @app.get("/who")
    def who() -> str:
        mine = request.args["n"]
        barrier.wait()  # every thread is inside its view at once
        return f"{mine}:{request.args['n']}"

    results: dict[int, str] = {}

    def call(n: int) -> None:
        results[n] = app.test_client().get(f"/who?n={n}").get_data(as_text=True)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == {n: f"{n}:{n}" for n in range(8)}


def test_request_is_built_lazily(app: App, client: TestClient) -> None:
    built = []

    class CountingRequest(App.request_class):
        def __init__(self, environ: Any) -> None:
            built.append(1)
            super().__init__(environ)

    app.request_class = CountingRequest
    app.add_route("/plain", lambda: "plain", endpoint="plain")
    app.add_route("/args", lambda: request.args.get("a", "-"), endpoint="args")
    client.get("/plain")
    assert built == []
    assert client.get("/args?a=1").data == b"1"
    assert built == [1]


def test_uploaded_files_are_closed_when_the_request_ends(app: App, client: TestClient) -> None:
    kept: list[Any] = []

    @app.post("/upload")
    def upload() -> str:
        upload = request.files["file"]
        kept.append(upload.stream)
        return f"{upload.filename}:{len(upload.read())}"

    response = client.post("/upload", data={"file": (io.BytesIO(b"x" * 20_000), "big.bin")})
    assert response.data == b"big.bin:20000"
    assert kept[0].closed


@pytest.fixture
def host_app(app: App) -> App:
    @app.before_request
    def seen() -> None:
        app.config.setdefault("SEEN", []).append(request.host)

    @app.get("/")
    def home() -> dict[str, str]:
        return {"host": request.host, "url": url_for("home", _external=True)}

    return app


def test_without_trusted_hosts_any_host_is_answered_and_used_for_external_urls(
    host_app: App, client: TestClient
) -> None:
    # Why TRUSTED_HOSTS exists: an absolute URL built in a request (a password-reset link, say) uses the Host header.
    assert client.get("/", headers={"Host": "attacker.example"}).json["url"] == "http://attacker.example/"


@pytest.mark.parametrize(
    "host", ["example.com", "example.com:8080", "www.example.org", "example.org", "a.b.example.org"]
)
def test_trusted_hosts_are_answered(host_app: App, client: TestClient, host: str) -> None:
    host_app.config["TRUSTED_HOSTS"] = ["example.com", ".example.org"]
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 200
    assert response.json == {"host": host, "url": f"http://{host}/"}


@pytest.mark.parametrize("host", ["attacker.example", "evilexample.com", "example.com.evil", "www.example.com", "<b>x"])
def test_other_hosts_are_a_400_before_any_hook_or_view(host_app: App, client: TestClient, host: str) -> None:
    host_app.config["TRUSTED_HOSTS"] = ["example.com", ".example.org"]
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "is not trusted" in text and "<b>" not in text
    assert "SEEN" not in host_app.config
    assert client.get("/nowhere", headers={"Host": host}).status_code == 400  # unmatched paths too


def test_trusted_hosts_behind_proxy_fix_check_the_forwarded_host(host_app: App) -> None:
    host_app.config["TRUSTED_HOSTS"] = ["example.com"]
    host_app.wsgi_app = ProxyFix(host_app.wsgi_app, x_host=1)
    client = host_app.test_client()
    proxied = {"Host": "127.0.0.1:9000", "X-Forwarded-Host": "example.com"}
    assert client.get("/", headers=proxied).json["url"] == "http://example.com/"
    assert client.get("/", headers={**proxied, "X-Forwarded-Host": "attacker.example"}).status_code == 400


def test_trusted_hosts_cover_mounted_apps(host_app: App) -> None:
    def legacy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"legacy"]

    host_app.mount("/legacy", legacy)
    host_app.config["TRUSTED_HOSTS"] = ["example.com"]
    client = validated_client(host_app)
    assert client.get("/legacy/x", headers={"Host": "example.com"}).data == b"legacy"
    refused = client.get("/legacy/x", headers={"Host": "attacker.example"})
    assert refused.status_code == 400 and b"legacy" not in refused.data


def test_forwarded_headers_are_ignored_without_proxy_fix(app: App, client: TestClient) -> None:
    @app.get("/who")
    def who() -> dict[str, Any]:
        return {
            "addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "root": request.root_path,
            "url": url_for("who", _external=True),
        }

    forged = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "attacker.example",
        "X-Forwarded-Prefix": "/evil",
    }
    assert client.get("/who", headers=forged, environ_base={"REMOTE_ADDR": "192.0.2.1"}).json == {
        "addr": "192.0.2.1",
        "scheme": "http",
        "host": "localhost",
        "root": "",
        "url": "http://localhost/who",
    }


def test_uploads_are_closed_when_the_form_fails_half_way(app: App, client: TestClient) -> None:
    app.config["MAX_FORM_PARTS"] = 3
    opened: list[Any] = []

    class Watching(App.request_class):
        def _get_file_stream(self, *args: Any, **kwargs: Any) -> Any:
            opened.append(super()._get_file_stream(*args, **kwargs))
            return opened[-1]

    app.request_class = Watching
    app.add_route("/upload", lambda: str(len(request.files)), methods=["POST"], endpoint="upload")
    parts = [b'Content-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n' + b"x" * 50]
    parts += [f'Content-Disposition: form-data; name="k{i}"\r\n\r\nv'.encode() for i in range(5)]
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"  # the file first
    assert client.post("/upload", data=body, content_type="multipart/form-data; boundary=b").status_code == 413
    # Werkzeug's parser drops the file it had opened when the 4th part fails: closed all the same, not left to the GC
    assert len(opened) == 1 and opened[0].closed
