"""Hostile input through a real server: gunicorn, spoken to over a raw socket.

The generated requests of ``test_hostile.py`` as bytes on the wire, plus what only a socket can send:
malformed request lines, oversize and broken headers, lying Content-Lengths, broken chunked bodies and
bodies cut short. Whatever comes back is never a 5xx nor a traceback, and at the end the same gunicorn
master and the same workers (none crashed or was killed for hanging) still answer correctly.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gateways.harness import ServerProcess, descendants, free_port, need_modules
from hostile_support.app import MAX_CONTENT_LENGTH
from hostile_support.checks import check_answer, check_no_leak, report
from hostile_support.generate import HostileRequest, raw_bytes, requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
WORKERS = 2
READ_TIMEOUT = 10.0
SENT: dict[str, int] = {}


@dataclass
class Gunicorn:
    """The running server: its port, its master process and the workers it started with."""

    port: int
    server: ServerProcess
    workers: set[tuple[int, str]]


def _workers(master: int) -> set[tuple[int, str]]:
    return set(descendants(master))


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Gunicorn]:
    need_modules("gunicorn")
    home = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        "--timeout", "20", "--no-control-socket", "--chdir", str(TESTS), "hostile_support.app:create_app()",
    ]  # fmt: skip
    server = ServerProcess("gunicorn", argv, home / "gunicorn.log", {**os.environ, "HOME": str(home)})
    server.start(port)
    try:
        assert server.proc is not None
        deadline = time.monotonic() + 20
        while len(_workers(server.proc.pid)) < WORKERS and time.monotonic() < deadline:  # forked after the bind
            time.sleep(0.05)
        workers = _workers(server.proc.pid)
        assert len(workers) == WORKERS, server.log_tail()
        yield Gunicorn(port, server, workers)
    finally:
        server.stop()
        report(request.config, "to gunicorn over a socket", SENT)


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a new connection, close our side, and read until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # a body shorter than its Content-Length ends here, not in a timeout
        except OSError:
            pass  # the server may refuse and close before reading everything (an oversize request)
        chunks: list[bytes] = []
        deadline = time.monotonic() + READ_TIMEOUT
        while time.monotonic() < deadline and sum(map(len, chunks)) < 4 * 1024 * 1024:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def parse(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status (e.g. "200 OK"), headers and body of an HTTP/1.x response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), f"not an HTTP response: {raw[:200]!r}"
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
    return lines[0].split(" ", 1)[1], headers, body


def check_alive(server: Gunicorn) -> None:
    """The same master and workers as at the start still serve a known request correctly."""
    status, _, body = parse(exchange(server.port, raw_bytes(HostileRequest("GET", "/i/21"))))
    assert (status, json.loads(body)) == ("200 OK", {"double": 42})
    proc = server.server.proc
    assert proc is not None and proc.poll() is None, "the gunicorn master exited"
    assert _workers(proc.pid) == server.workers, "a worker died or was replaced (crash or timeout)"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(req=requests())
def test_generated_requests_through_gunicorn(gunicorn: Gunicorn, req: HostileRequest) -> None:
    raw = exchange(gunicorn.port, raw_bytes(req))
    SENT["generated"] = SENT.get("generated", 0) + 1
    assert raw, f"no answer to {req!r}"
    status, headers, body = parse(raw)
    from_app = any(name == "Server" for name, _ in headers)  # gunicorn adds it to the app's answers only
    event(f"{'app' if from_app else 'gunicorn'}: {status[:3]}")  # shown by --hypothesis-show-statistics
    if from_app:
        check_answer(req, status, headers, body)
    else:  # gunicorn refused the request itself (a bad header, a transfer coding it does not do)
        check_server_answer(raw_bytes(req), status, body)


def check_server_answer(sent: bytes, status: str, body: bytes) -> None:
    """An answer gunicorn gave itself: a 4xx, or 501 for a transfer coding it does not implement."""
    code = int(status[:3])
    assert code < 500 or (code == 501 and b"transfer-encoding" in sent.lower()), f"{status} for {sent[:300]!r}"
    check_no_leak(sent.decode("latin-1"), status, body)


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


REQUEST_LINES = [
    b"GET", b"GET /", b"GET / HTTP/1.1 extra", b"GET / HTTP/9.9", b"GET / HTTP/1", b"GET / HTTX/1.1",
    b"get / HTTP/1.1", b"G\x00T / HTTP/1.1", b"GET /\x00 HTTP/1.1", b"GET  / HTTP/1.1", b"GET /a b HTTP/1.1",
    b"GET http://127.0.0.1/i/21 HTTP/1.1", b"GET * HTTP/1.1", b"CONNECT 127.0.0.1:1 HTTP/1.1", b"\r\nGET / HTTP/1.1",
    b"GET /" + b"a" * 5000 + b" HTTP/1.1", b"GET /\xff\xfe HTTP/1.1", b"GET /%ZZ HTTP/1.1", b"\x16\x03\x01\x00",
    b"PRI * HTTP/2.0", b"GET / HTTP/1.0", b"GET /?" + b"&a=b" * 2000 + b" HTTP/1.1",
]  # fmt: skip
HEADER_BLOCKS = [
    b"Host: x\r\nFoo", b"Host: x\r\nFoo : bar", b"Host: x\r\nFoo: a\r\n folded", b"Host: x\r\nFoo: a\x00b",
    b"Host: x\r\nFoo: " + b"v" * 9000, b"Host: x\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(150)) + b"Z: v",
    b"Host: x\r\nContent-Length: 5\r\nContent-Length: 6", b"Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked",
    b"Host: x\r\nContent-Length: -1", b"Host: x\r\nContent-Length: 1e3", b"Host: x\r\nContent-Length: 0x10",
    b"Host: x\r\nContent-Length: 99999999999999999999999", b"Host: x\r\nTransfer-Encoding: gzip, chunked",
    b"Host: x\r\nTransfer-Encoding: chunked, chunked", b"Host: x\r\nHost: y", b"", b"Host: x\r\nExpect: 100-continue",
    b"Host: x\r\n\xff\xfe: v", b"Host: x\r\nCookie: " + b"a=b; " * 2000, b"Host: x\r\nX: \xc3\xa9\xff",
]  # fmt: skip
BODIES = [
    b"", b"a=1", b"x" * 100, chunked(b'{"a":', b" 1}"), b"5\r\nabc", b"zz\r\nabc\r\n0\r\n\r\n",
    chunked(b"x" * 70_000), chunked(b"a=1", b"&b=2"), b"ffffffffffffffff\r\nx",
    b"3;ext=" + b"e" * 9000 + b"\r\nabc\r\n",
]  # fmt: skip


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """A request only a raw socket can send: a broken line, broken or oversize headers, a broken body."""
    path = draw(st.sampled_from(["/data", "/json", "/form", "/upload", "/i/21", "/q"]))
    line = draw(st.sampled_from([*REQUEST_LINES, b"POST " + path.encode() + b" HTTP/1.1"]))
    headers = draw(st.sampled_from(HEADER_BLOCKS))
    content_type = draw(st.sampled_from([b"", b"\r\nContent-Type: application/json",
                                         b"\r\nContent-Type: application/x-www-form-urlencoded"]))  # fmt: skip
    body = draw(st.sampled_from(BODIES))
    eol = b"\n" if draw(st.integers(0, 9)) == 0 else b"\r\n"  # bare LF line ends, now and then
    head = (line + b"\r\n" + headers + content_type).replace(b"\r\n", eol)
    return head + eol + b"Connection: close" + eol + eol + body


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=malformed())
def test_malformed_requests_through_gunicorn(gunicorn: Gunicorn, data: bytes) -> None:
    raw = exchange(gunicorn.port, data)
    SENT["malformed"] = SENT.get("malformed", 0) + 1
    if not raw:
        event("closed without an answer")
        return  # a fair reply to some of these
    status, headers, body = parse(raw)
    event(f"{'app' if any(name == 'Server' for name, _ in headers) else 'gunicorn'}: {status[:3]}")
    check_server_answer(data, status, body)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        # chunked: no Content-Length, so the limit is met while reading; one byte over is a 413, not cut short
        (b"POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"x" * MAX_CONTENT_LENGTH),
         "200"),
        (b"POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         + chunked(b"x" * MAX_CONTENT_LENGTH, b"y"), "413"),
        (b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_CONTENT_LENGTH + 1), "413"),
        (b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10, "400"),  # cut short
    ],
)  # fmt: skip
def test_body_limits_through_gunicorn(gunicorn: Gunicorn, data: bytes, status: str) -> None:
    answer, _, body = parse(exchange(gunicorn.port, data))
    assert answer.split()[0] == status, body[:300]
    if status == "200":
        assert json.loads(body)["length"] == MAX_CONTENT_LENGTH


def test_gunicorn_is_the_same_and_still_serves(gunicorn: Gunicorn) -> None:
    # Runs last in this module: after every request above, the same processes answer correctly.
    check_alive(gunicorn)
    log = gunicorn.server.log.read_text(errors="replace")
    assert "Traceback" not in log and "Error handling request" not in log and "Exception on" not in log, log[-3000:]
