"""The request context: each request's values are its own, and a request ends exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Response as WerkzeugResponse

from microweb import App, RequestContext, Response, request
from microweb.ctx import context_var
from microweb.testing import TestClient
from microweb.wrappers import Request

from support import SECRET, validated_client


def _tagging_app() -> App:
    """The URL-processor habit: a before hook that writes into request.view_args."""
    app = App(secret_key=SECRET)

    @app.before_request
    def tag() -> None:
        if request.view_args is not None and "who" in request.args:
            request.view_args["who"] = request.args["who"]

    @app.get("/about")
    def about(who: str = "nobody") -> str:
        return who

    @app.get("/other")
    def other() -> str:
        return "other"

    @app.get("/u/<int:uid>")
    def user(uid: int, who: str = "nobody") -> str:
        return f"{uid}:{who}"

    @app.errorhandler(404)
    def missing(exc: Exception) -> tuple[str, int]:
        return f"missing:{request.view_args!r}", 404

    return app


def test_values_a_hook_writes_into_view_args_stay_in_their_request() -> None:
    client = validated_client(_tagging_app())
    assert client.get("/about?who=alice").data == b"alice"
    assert client.get("/about").data == b"nobody"  # was "alice" for everyone after one request
    assert client.get("/other").data == b"other"  # was a 500: other() got an unexpected keyword argument 'who'
    assert client.get("/u/7?who=bob").data == b"7:bob"
    assert client.get("/u/7").data == b"7:nobody"
    assert client.get("/about").data == b"nobody"
    # an unmatched request has no view_args to write into, whatever came before
    assert client.get("/nowhere?who=eve").data == b"missing:None"
    assert client.get("/about").data == b"nobody"


def test_view_args_stay_in_their_request_from_8_threads_at_once() -> None:
    app = _tagging_app()
    wrong: list[str] = []
    barrier = threading.Barrier(8, timeout=30)

    def worker(n: int) -> None:
        client = TestClient(app)
        barrier.wait()
        for i in range(50):
            who = f"t{n}r{i}"
            paths = {
                f"/about?who={who}": who,
                "/about": "nobody",
                "/other": "other",
                f"/u/{n}?who={who}": f"{n}:{who}",
                f"/u/{n}": f"{n}:nobody",
            }
            for path, expected in paths.items():
                answer = client.get(path).get_data(as_text=True)
                if answer != expected:
                    wrong.append(f"{path}: {answer!r}, not {expected!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert not wrong, wrong[:10]


def _class_state(*classes: type) -> dict[str, dict[str, str]]:
    # repr, not the values: a dict changed in place (the leak) is the same object before and after
    return {cls.__qualname__: {k: repr(v) for k, v in vars(cls).items() if not k.startswith("__")} for cls in classes}


def test_no_request_changes_a_class_or_leaves_state_on_one() -> None:
    """Per-request values live on instances: after requests of every kind, the classes are as they were."""
    app = _tagging_app()
    app.add_route("/stream", lambda: iter(["a", "b"]), endpoint="stream")
    app.add_route("/response", lambda: Response("r"), endpoint="response")
    app.after_request(lambda response: response)
    before = _class_state(App, RequestContext, Request, Response)
    client = validated_client(app)
    for path in ["/about?who=x", "/u/1?who=y", "/nowhere", "/stream", "/response", "/other"]:
        client.get(path)
        client.post(path, data={"a": "b"})
    assert _class_state(App, RequestContext, Request, Response) == before


def test_no_context_is_left_behind() -> None:
    client = validated_client(_tagging_app())
    for path in ["/about", "/nowhere", "/u/x"]:
        client.get(path)
        assert context_var.get(None) is None


# ---------------------------------------------------------------- a request ends exactly once


def _counting_app() -> tuple[App, list[Any]]:
    app = App(secret_key=SECRET)
    ended: list[Any] = []
    app.teardown_request(ended.append)

    @app.resource
    def resource() -> Iterator[str]:
        try:
            yield "r"
            ended.append("commit")
        except Exception:
            ended.append("rollback")
            raise

    def streamed(fail: bool) -> Iterator[str]:
        resource()
        yield "a"
        if fail:
            raise RuntimeError("half way")
        yield "b"

    app.add_route("/plain", lambda: (resource(), "plain")[1], endpoint="plain")
    app.add_route("/fails", lambda: 1 / (resource() == ""), endpoint="fails")
    app.add_route("/stream", lambda: streamed(False), endpoint="stream")
    app.add_route("/stream-fails", lambda: streamed(True), endpoint="stream_fails")
    return app, ended


@pytest.mark.parametrize(
    ("path", "read", "expected"),
    [
        ("/plain", "all", ["commit", None]),
        ("/fails", "all", ["rollback", ZeroDivisionError]),
        ("/stream", "all", ["commit", None]),
        ("/stream", "one chunk", ["rollback", "ClientDisconnected"]),  # closed early: what was not sent did not happen
        ("/stream-fails", "all", ["rollback", RuntimeError]),
    ],
)
def test_a_request_ends_exactly_once(path: str, read: str, expected: list[Any]) -> None:
    app, ended = _counting_app()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
    }
    body = app(environ, lambda status, headers, exc_info=None: None)
    try:
        if read == "all":
            for _ in body:
                pass
        else:
            next(iter(body))
    except RuntimeError:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()
        close()  # a middleware's close and the server's: still one end
    kinds = [e if isinstance(e, (str, type(None))) else type(e) for e in ended]
    kinds = [k.__name__ if isinstance(k, type) and k.__name__ == "ClientDisconnected" else k for k in kinds]
    assert kinds == expected


# ---------------------------------------------------------------- g


def test_g_is_a_namespace_of_the_request_and_empty_at_the_start_of_each() -> None:
    from microweb import g

    app = App()
    seen: list[Any] = []

    @app.before_request
    def load_user() -> None:
        seen.append(("user" in g, g.get("user", "nobody")))
        g.user = request.args.get("user", "anon")

    @app.get("/")
    def view() -> dict[str, Any]:
        g.setdefault("visits", 0)
        return {"user": g.user, "has": "user" in g, "names": sorted(g), "visits": g.visits}

    client = validated_client(app)
    assert client.get("/?user=ann").json == {"user": "ann", "has": True, "names": ["user", "visits"], "visits": 0}
    assert client.get("/").json["user"] == "anon"
    assert seen == [(False, "nobody"), (False, "nobody")]  # nothing of the first request in the second


def test_g_outside_a_request_says_what_to_do() -> None:
    from microweb import g

    with pytest.raises(RuntimeError, match="only available while a request is being handled.*test_client"):
        g.user = "x"
    with pytest.raises(RuntimeError, match="only available while a request is being handled"):
        g.get("user")


# ---------------------------------------------------------------- streamed bodies


def _streaming_app() -> tuple[App, list[str]]:
    app = App(secret_key=SECRET)
    closed: list[str] = []

    class Shouting(Response):
        def iter_encoded(self) -> Iterator[bytes]:  # a response class of its own way of encoding
            return (chunk.upper().encode() for chunk in self.response)  # type: ignore[union-attr]

    def chunks() -> Iterator[Any]:
        try:
            yield "caf\u00e9 "  # str chunks are encoded as Werkzeug encodes them
            yield b"bytes "
            yield request.path  # the request is current while a chunk is made
        finally:
            closed.append("generator")

    @app.get("/stream")
    def stream() -> Response:
        response = Response(chunks())
        response.call_on_close(lambda: closed.append("on_close"))
        return response

    app.add_route("/shout", lambda: Shouting(iter(["a", "b"])), endpoint="shout")
    app.add_route("/not-modified", lambda: Response(chunks(), status=304), endpoint="not_modified")
    return app, closed


def test_a_streamed_body_is_the_views_chunks_encoded_and_closes_the_response() -> None:
    app, closed = _streaming_app()
    reply = validated_client(app).get("/stream")
    assert reply.data == "caf\u00e9 bytes /stream".encode()
    assert closed == ["generator", "on_close"]


def test_a_streamed_body_keeps_a_response_class_own_encoding_and_the_empty_statuses() -> None:
    app, closed = _streaming_app()
    client = validated_client(app)
    assert client.get("/shout").data == b"AB"
    reply = client.get("/not-modified")
    assert reply.status_code == 304 and reply.data == b""
    assert closed == []  # a 304's body is never started, only closed (never begun, so nothing runs)


# ---------------------------------------------------------------- a stream, chunk by chunk, as a server reads it


def _environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
    }


class _Tagged(str):
    """A str whose own ``encode`` Werkzeug calls: so must the stream."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"<" + str(self).encode(encoding, errors) + b">"


def _edge_app(fail_at: int | None, commit_fails: bool = False) -> tuple[App, list[Any]]:
    """GET /s: the chunks str, bytes, a str subclass, a bytearray and the request's path, made with a resource;
    ``fail_at`` raises instead of that chunk (5: after the last one)."""
    app = App(secret_key=SECRET)
    events: list[Any] = []
    app.teardown_request(lambda error: events.append(("teardown", type(error).__name__ if error else None)))

    @app.resource
    def db() -> Iterator[str]:
        events.append("open")
        try:
            yield "conn"
        except Exception:
            events.append("rollback")
            raise
        if commit_fails:
            raise OSError("disk full")
        events.append("commit")

    def chunks() -> Iterator[Any]:
        for i, chunk in enumerate(["caf\u00e9 ", b"bytes ", _Tagged("t"), bytearray(b" ba "), None]):
            if i == fail_at:
                raise ValueError(f"chunk {i}")
            events.append(("chunk", i, db()))  # the resource, and below the request, are there for every chunk
            yield request.path if chunk is None else chunk
        if fail_at == 5:
            raise ValueError("after the last chunk")

    app.add_route("/s", chunks, endpoint="s")
    return app, events


def _start(app: App) -> Any:
    return app(_environ("/s"), lambda status, headers, exc_info=None: None)


def test_a_stream_encodes_str_as_werkzeug_does_and_keeps_the_rest_as_it_is() -> None:
    app, events = _edge_app(None)
    body = _start(app)
    chunks = list(body)
    assert chunks == ["caf\u00e9 ".encode(), b"bytes ", b"<t>", bytearray(b" ba "), b"/s"]
    assert [type(chunk) for chunk in chunks] == [bytes, bytes, bytes, bytearray, bytes]
    assert events[-1] == "commit"  # committed when the last chunk was made, before the server closes the body
    assert [e for e in events if isinstance(e, tuple) and e[0] == "chunk"] == [("chunk", i, "conn") for i in range(5)]
    body.close()
    assert events[-1] == ("teardown", None)


@pytest.mark.parametrize("fail_at", [0, 2, 5])
def test_an_exception_in_a_stream_is_logged_once_rolls_back_and_reaches_the_server(
    fail_at: int, caplog: pytest.LogCaptureFixture
) -> None:
    app, events = _edge_app(fail_at)
    body = _start(app)
    got = []
    with pytest.raises(ValueError, match="chunk|after the last"):
        for chunk in body:
            got.append(chunk)
    assert len(got) == min(fail_at, 5)
    body.close()
    body.close()
    records = [r for r in caplog.records if r.getMessage().startswith("Exception while streaming")]
    assert [r.getMessage() for r in records] == ["Exception while streaming GET /s [s]"]
    assert records[0].exc_info is not None and records[0].exc_info[0] is ValueError
    expected_end = ["rollback", ("teardown", "ValueError")] if fail_at > 0 else [("teardown", "ValueError")]
    assert events[-len(expected_end) :] == expected_end  # the resource, opened with the first chunk, rolled back
    assert "commit" not in events


def test_a_failed_commit_after_the_last_chunk_reaches_the_server() -> None:
    app, events = _edge_app(None, commit_fails=True)
    body = _start(app)
    with pytest.raises(OSError, match="disk full"):
        list(body)
    body.close()
    assert events[-1] == ("teardown", "OSError")


@pytest.mark.parametrize("read", [0, 1, 3])
def test_a_stream_closed_early_is_a_client_gone_and_closes_once(read: int) -> None:
    app, events = _edge_app(None)
    body = _start(app)
    chunks = iter(body)
    assert iter(body) is chunks  # one iterator: a second iter() goes on where the first is
    got = [next(chunks) for _ in range(read)]
    assert len(got) == read
    body.close()
    body.close()  # a middleware's close and the server's: one end
    assert events.count(("teardown", "ClientDisconnected")) == 1
    assert ("rollback" in events) == (read > 0)  # nothing opened before the first chunk: nothing to roll back
    assert list(chunks) == []  # closed: no chunk is made after close


def test_next_on_the_body_itself_reads_the_same_stream() -> None:
    app, _ = _edge_app(None)
    body = _start(app)
    assert next(body) == "caf\u00e9 ".encode()
    assert next(iter(body)) == b"bytes "
    body.close()


def test_an_unencodable_str_chunk_is_logged_as_a_failed_stream(caplog: pytest.LogCaptureFixture) -> None:
    app = App()
    app.add_route("/s", lambda: iter(["ok", "\ud800"]), endpoint="s")
    body = _start(app)
    with pytest.raises(UnicodeEncodeError):
        list(body)
    body.close()
    assert [r.getMessage() for r in caplog.records] == ["Exception while streaming GET /s [s]"]


_CHUNKS = st.lists(st.one_of(st.text(max_size=8), st.binary(max_size=8)), max_size=6)


@given(chunks=_CHUNKS, as_generator=st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_streamed_body_is_the_bytes_werkzeug_sends(chunks: list[str | bytes], as_generator: bool) -> None:
    app = App()
    app.add_route("/s", lambda: (c for c in chunks) if as_generator else iter(chunks), endpoint="s")
    body = _start(app)
    try:
        sent = list(body)
    finally:
        body.close()
    environ = _environ("/s")
    werkzeug = WerkzeugResponse(iter(chunks)).get_app_iter(environ)
    assert sent == list(werkzeug)
    assert all(type(chunk) is bytes for chunk in sent)


def test_a_response_class_own_is_streamed_decides_when_the_request_ends() -> None:
    events: list[str] = []

    class Buffered(Response):
        @property
        def is_streamed(self) -> bool:  # a class that says its generators are not streams
            return False

    app = App()
    app.response_class = Buffered
    app.teardown_request(lambda error: events.append("teardown"))

    def chunks() -> Iterator[str]:
        events.append("chunk")
        yield "x"

    app.add_route("/s", chunks, endpoint="s")
    body = _start(app)
    assert events == ["teardown"]  # not streamed: the request ended before its body went out
    assert list(body) == [b"x"]


def test_request_proxy_reads_a_context_subclass_own_request_property() -> None:
    """The proxy's direct read of the built request must not bypass a RequestContext subclass's ``request``."""

    class Tagged(RequestContext):
        @property
        def request(self) -> Any:
            req = super().request
            req.reads = getattr(req, "reads", 0) + 1  # type: ignore[attr-defined]
            return req

    class TaggingApp(App):
        def request_context(self, environ: Any) -> RequestContext:
            return Tagged(self, environ)

    app = TaggingApp(__name__)
    app.add_route("/", lambda: f"{request.args['q']}:{request.reads}:{request.reads}")  # type: ignore[attr-defined]
    assert app.test_client().get("/?q=1").text == "1:2:3"  # every read went through it


def test_request_proxy_reads_the_request_built_before_and_fails_outside_one() -> None:
    app = App(__name__)
    app.add_route("/", lambda: f"{request.args['q']}:{request.args is request.args}:{request.method}")
    assert app.test_client().get("/?q=2").text == "2:True:GET"
    with pytest.raises(RuntimeError, match="request is only available while a request is being handled"):
        request.args  # noqa: B018
