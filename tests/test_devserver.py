"""The development server (``server="wsgiref"``): timeouts, descriptors, chunked bodies, framing, start-up warning.

The protocol tests run the server in this process, on a free port of
127.0.0.1; the tests of timeouts, threads and file descriptors run it in a
subprocess, whose threads, CPU time and descriptor limit can be read and set.
Every wait is bounded, and none of the assertions depends on how fast this
machine is.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateways.harness import ServerProcess, free_port, running

from microweb import App, Response, request
from microweb.devserver import DevServer

from support import in_thread

WAIT = 20.0  # seconds: the bound on every wait
BIG = 8 * 1024 * 1024  # the page that a client asks for and never reads


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def dev_server(app: Any, timeout: float = 10.0) -> Iterator[int]:
    """The dev server on a free port of 127.0.0.1 (yielded), in a thread, for the ``with`` block."""
    with in_thread(DevServer(("127.0.0.1", 0), app, timeout=timeout, quiet=True), join=WAIT) as port:
        yield port


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (within WAIT)."""
    data = b""
    deadline = time.monotonic() + WAIT
    for _ in range(100_000):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {WAIT} s after {data[:300]!r}")
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail("the server never stopped sending")


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` as it is, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(raw)
        return read_all(sock)


def parse(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names; a repeated one is joined), and the raw body."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(lines[0].split()[1]), headers, body


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with the last (zero-size) chunk."""
    data, pos = b"", 0
    for _ in range(len(body) + 1):
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return data, False
        size = int(body[pos:eol].split(b";")[0], 16)
        if size == 0:
            return data, body[eol + 2 :] == b"\r\n"
        data += body[eol + 2 : eol + 2 + size]
        if body[eol + 2 + size : eol + 4 + size] != b"\r\n":
            return data, False
        pos = eol + 4 + size
    raise AssertionError("unreachable: every round consumes bytes")


def post(port: int, path: str, headers: str, body: bytes, version: str = "HTTP/1.1") -> bytes:
    head = f"POST {path} {version}\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n{headers}\r\n"
    return exchange(port, head.encode("latin-1") + body)


def chunked(data: bytes, size: int = 1000) -> bytes:
    """``data`` in the chunked coding, with an extension on the first chunk and a trailer."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";name=value" if i == 0 else b"", p) for i, p in enumerate(pieces))
    return out + b"0\r\nX-Checksum: 1\r\n\r\n"


def echo_app() -> tuple[App, list[dict[str, Any]]]:
    """POST /echo answers how many bytes it read and what they were; ``seen`` gets the environ's body keys."""
    app = App(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    seen: list[dict[str, Any]] = []

    @app.post("/echo")
    def echo() -> Any:
        data = request.get_data()
        env = request.environ
        seen.append({k: env.get(k) for k in ("CONTENT_LENGTH", "wsgi.input_terminated", "wsgi.multithread")})
        seen[-1]["PATH"] = env.get("PATH")  # the server's own environment is not the request's
        return {"length": len(data), "start": data[:20].decode(), "end": data[-20:].decode()}

    return app, seen


# ---------------------------------------------------------------- request bodies


def test_a_chunked_request_body_reaches_the_app_whole() -> None:
    app, seen = echo_app()
    data = bytes(range(48, 58)) * 700  # 7,000 bytes in 7 chunks
    with dev_server(app) as port:
        status, headers, body = parse(post(port, "/echo", "Transfer-Encoding: chunked\r\n", chunked(data)))
        assert status == 200, body
        assert json.loads(body) == {"length": 7000, "start": "01234567890123456789", "end": "01234567890123456789"}
        # Content-Length next to chunked is ignored (RFC 9112 section 6.3), never taken as the body's length
        both = "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"
        assert json.loads(parse(post(port, "/echo", both, chunked(b"abcdef", 2)))[2])["length"] == 6
    assert seen[0] == {"CONTENT_LENGTH": None, "wsgi.input_terminated": True, "wsgi.multithread": True, "PATH": None}


def test_a_chunked_body_over_max_content_length_is_a_413() -> None:
    app, seen = echo_app()
    with dev_server(app) as port:
        status, _, _ = parse(post(port, "/echo", "Transfer-Encoding: chunked\r\n", chunked(b"x" * 30_000)))
        assert status == 413
        status, _, body = parse(post(port, "/echo", "Transfer-Encoding: chunked\r\n", chunked(b"x" * 10_000)))
        assert status == 200 and json.loads(body)["length"] == 10_000
    assert len(seen) == 1  # the view never ran on the body too large


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", b"is not a chunk size"),
        (b"-3\r\nabc\r\n0\r\n\r\n", b"is not a chunk size"),
        (b"3\r\nabcdef\r\n0\r\n\r\n", b"a chunk is longer than its size"),
        (b"3\nabc\n0\n\n", b"does not end with CRLF"),
        (b"1" * 70_000 + b"\r\n", b"too long"),
        (b"3\r\nabc\r\n0\r\n" + b"X: y\r\n" * 101 + b"\r\n", b"too many trailer lines"),
    ],
    ids=["not hex", "negative", "longer than its size", "bare LF", "size line too long", "too many trailers"],
)
def test_a_malformed_chunked_body_is_a_400(body: bytes, why: bytes) -> None:
    app, seen = echo_app()
    with dev_server(app) as port:
        status, _, page = parse(post(port, "/echo", "Transfer-Encoding: chunked\r\n", body))
    assert status == 400 and why in page
    assert seen == []  # the view got an error, not a body cut short


def test_a_chunked_body_cut_short_is_a_400_not_a_short_body() -> None:
    app, seen = echo_app()
    with dev_server(app) as port, socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + b"a\r\n01234")
        sock.shutdown(socket.SHUT_WR)  # the client stops half way through a chunk
        assert parse(read_all(sock))[0] == 400
    assert seen == []


@pytest.mark.parametrize(
    ("version", "headers", "status"),
    [
        ("HTTP/1.1", "Transfer-Encoding: gzip, chunked\r\n", 501),
        ("HTTP/1.1", "Transfer-Encoding: chunked, gzip\r\n", 400),
        ("HTTP/1.1", "Transfer-Encoding: gzip\r\n", 400),
        ("HTTP/1.0", "Transfer-Encoding: chunked\r\n", 400),
        ("HTTP/1.1", "Content-Length: 12abc\r\n", 400),
        ("HTTP/1.1", "Content-Length: 3\r\nContent-Length: 4\r\n", 400),
        ("HTTP/1.1", "Content-Length: \u00b2\r\n", 400),  # a digit to str.isdigit(), not to int()
        ("HTTP/1.1", "Content-Length: -1\r\n", 400),
        ("HTTP/1.1", f"Content-Length: {'9' * 5000}\r\n", 413),  # past int()'s 4,300 digits
        ("HTTP/1.1", f"Content-Length: {2**63}\r\n", 413),  # past what a stream reads
    ],
)
def test_a_body_it_cannot_delimit_is_refused(version: str, headers: str, status: int) -> None:
    app, seen = echo_app()
    with dev_server(app) as port:
        assert parse(post(port, "/echo", headers, chunked(b"abc"), version))[0] == status
    assert seen == []


def test_a_sized_body_is_read_to_its_length_and_no_further() -> None:
    app, seen = echo_app()
    with dev_server(app) as port:
        status, _, body = parse(post(port, "/echo", "Content-Length: 5\r\n", b"helloEXTRA"))
    assert status == 200 and json.loads(body) == {"length": 5, "start": "hello", "end": "hello"}
    assert seen[0]["CONTENT_LENGTH"] == "5" and not seen[0]["wsgi.input_terminated"]


def test_expect_100_continue_is_answered_before_the_body() -> None:
    app, _ = echo_app()
    with dev_server(app) as port, socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        interim = b""
        for _ in range(100):  # until the interim response is in (bounded by the socket's timeout too)
            interim += sock.recv(100)
            if b"\r\n\r\n" in interim:
                break
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert json.loads(parse(read_all(sock))[2])["start"] == "abc"


# ---------------------------------------------------------------- response framing


def plain_app(status: str, headers: list[tuple[str, str]], body: list[bytes]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, list(headers))
        return body

    return app


def framing_app() -> App:
    app = App(__name__)

    @app.get("/stream")
    def stream() -> Response:
        return Response((f"{i:04d}\n" * 27 for i in range(120)), mimetype="text/plain")  # 16,200 bytes

    @app.get("/fails")
    def fails() -> Response:
        def rows() -> Iterator[str]:
            yield "row 0\n"
            yield "row 1\n"
            raise RuntimeError("the database went away")

        return Response(rows(), mimetype="text/plain")

    @app.get("/empty")
    def empty() -> tuple[str, int]:
        return "", 204

    return app


@pytest.mark.parametrize(
    ("method", "app", "content_length"),
    [
        ("GET", plain_app("204 No Content", [], []), None),
        ("GET", plain_app("204 No Content", [("Content-Length", "0")], [b""]), None),  # RFC 9110 section 8.6
        ("GET", plain_app("304 Not Modified", [("ETag", '"x"')], []), None),
        ("GET", plain_app("304 Not Modified", [("Content-Length", "16200")], []), "16200"),  # the GET's
        ("HEAD", plain_app("200 OK", [], [b""]), None),
        ("HEAD", plain_app("200 OK", [], [b"the GET's body"]), "14"),
        ("HEAD", framing_app(), None),  # a stream: its length is not known
        ("GET", plain_app("200 OK", [], []), "0"),
        ("GET", plain_app("200 OK", [], [b"in one piece"]), "12"),
    ],
    ids=["204", "204 with 0", "304", "304 with the GET's", "HEAD empty", "HEAD body", "HEAD stream", "empty", "sized"],
)
def test_no_content_length_it_cannot_vouch_for(method: str, app: Any, content_length: str | None) -> None:
    path = "/stream"
    with dev_server(app) as port:
        status, headers, body = parse(exchange(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
    assert headers.get("content-length") == content_length
    assert "transfer-encoding" not in headers
    if method == "HEAD" or status in (204, 304):
        assert body == b""


def test_microwebs_204_and_head_of_a_stream_over_the_dev_server() -> None:
    with dev_server(framing_app()) as port:
        status, headers, body = parse(exchange(port, b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert status == 204 and "content-length" not in headers and body == b""
        status, headers, body = parse(exchange(port, b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert status == 200 and headers.get("content-length") in (None, "16200") and body == b""


def test_a_stream_is_chunked_to_http_11_and_ends_with_the_last_chunk() -> None:
    expected = b"".join(f"{i:04d}\n".encode() * 27 for i in range(120))
    with dev_server(framing_app()) as port:
        status, headers, body = parse(exchange(port, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert status == 200 and headers["transfer-encoding"] == "chunked" and headers["connection"] == "close"
        assert "content-length" not in headers
        assert dechunk(body) == (expected, True)
        # An HTTP/1.0 client cannot read chunks: the body ends when the connection does.
        status, headers, body = parse(exchange(port, b"GET /stream HTTP/1.0\r\n\r\n"))
        assert status == 200 and "transfer-encoding" not in headers and body == expected


def test_a_stream_that_fails_half_way_has_no_last_chunk(capsys: pytest.CaptureFixture[str]) -> None:
    with dev_server(framing_app()) as port:
        status, headers, body = parse(exchange(port, b"GET /fails HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert dechunk(body) == (b"row 0\nrow 1\n", False)  # the client can tell it is incomplete
    assert "the database went away" in capsys.readouterr().err  # and the server says why


def test_a_bad_timeout_is_refused() -> None:
    for bad in (0, -1, "soon", None, float("nan")):
        with pytest.raises(ValueError, match="timeout must be a number of seconds above 0"):
            DevServer(("127.0.0.1", 0), framing_app(), timeout=bad)  # type: ignore[arg-type]


def test_a_request_head_sent_a_byte_at_a_time_is_dropped_at_the_timeout() -> None:
    """Slowloris: each byte comes before the timeout, but the head as a whole does not."""
    with dev_server(framing_app(), timeout=1.0) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(0.2)
        head = b"GET /stream HTTP/1.1\r\nX-Slow: " + b"a" * 100
        for sent in range(1, 101):  # up to 100 bytes, one per 0.2 s at most: far more than 1 s in all
            try:
                sock.sendall(head[sent - 1 : sent])
                if sock.recv(100) == b"":
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                break
        else:
            pytest.fail("the server still waited for the head after 100 bytes sent one by one")
        assert sent < 100


# ---------------------------------------------------------------- in a subprocess: threads and descriptors

SERVER_APP = """
import os, resource, sys
limit = int(os.environ.get("NOFILE", "0"))
if limit:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
from microweb import App
app = App(__name__)
BIG = b"x" * {big}

@app.get("/")
def index():
    return "hello"

@app.get("/big")
def big():
    return BIG

app.run(port=int(sys.argv[1]), timeout=float(sys.argv[2]))
"""


@contextlib.contextmanager
def server_process(tmp_path: Path, timeout: float, nofile: int = 0) -> Iterator[tuple[int, ServerProcess]]:
    (tmp_path / "devapp.py").write_text(SERVER_APP.replace("{big}", str(BIG)))
    port = free_port()
    env = {**os.environ, "NOFILE": str(nofile)}
    argv = [sys.executable, "devapp.py", str(port), str(timeout)]
    server = ServerProcess("wsgiref", argv, tmp_path / "server.log", env=env, cwd=tmp_path)
    with running((server, port)):
        yield port, server


def proc_status(server: ServerProcess, field: str) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/PID/status")


def cpu_seconds(server: ServerProcess) -> float:
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT} s"
        time.sleep(0.05)


def idle(port: int, kind: str) -> socket.socket:
    """A client that stops: after connecting, half way through its head, or without reading a big page."""
    sock = socket.socket()
    if kind == "not reading":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # so the page cannot all sit in buffers
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        {"silent": b"", "half a head": b"GET / HTTP/1.1\r\nHost: x", "not reading": b"GET /big HTTP/1.1\r\n\r\n"}[kind]
    )
    return sock


def served(port: int) -> bytes:
    return parse(exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))[2]


@pytest.mark.slow
def test_idle_clients_are_dropped_and_their_threads_freed(tmp_path: Path) -> None:
    with server_process(tmp_path, timeout=1.0) as (port, server):
        clients = [idle(port, kind) for kind in ["silent", "half a head", "not reading"] for _ in range(4)]
        wait_for("12 clients dropped", lambda: server.log.read_text().count("dropped: ") >= 12)
        wait_for("their threads ended", lambda: proc_status(server, "Threads") == 1)  # serve_forever's alone
        for sock in clients:
            with sock:
                assert len(read_all(sock)) < BIG  # closed by the server, and the big page never all sent
        assert served(port) == b"hello"
    log = server.log.read_text()
    assert "development server" in log.splitlines()[0] and "not made for production" in log
    assert "dropped: the client read nothing for 1 s" in log and "dropped: no request within 1 s" in log


@pytest.mark.slow
def test_out_of_descriptors_it_waits_without_spinning_and_recovers(tmp_path: Path) -> None:
    with server_process(tmp_path, timeout=3.0, nofile=40) as (port, server):
        clients = [idle(port, "half a head") for _ in range(50)]  # more than 40 descriptors
        try:
            wait_for("EMFILE", lambda: "cannot accept connections" in server.log.read_text())
            # While the table is full, accept() fails at once: a loop retrying it would burn a core.
            start_cpu, start = cpu_seconds(server), time.monotonic()
            time.sleep(1.0)
            used = cpu_seconds(server) - start_cpu
            assert used < 0.5 * (time.monotonic() - start), f"{used:.2f} s of CPU while waiting"
            assert served(port) == b"hello"  # once idle clients time out, within WAIT
            for sock in clients:
                assert read_all(sock) == b""  # each one dropped by the server
        finally:
            for sock in clients:
                sock.close()
    assert "accepting connections again" in server.log.read_text()


def test_an_ipv6_host_is_served() -> None:
    try:
        server = DevServer(("::1", 0), framing_app(), quiet=True)
    except OSError as exc:  # IPv6 switched off on this machine
        pytest.skip(f"no IPv6 loopback here: {exc}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("::1", server.server_port), timeout=WAIT) as sock:
            sock.sendall(b"GET /empty HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            assert parse(read_all(sock))[0] == 204
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
