"""The development server: the standard library's wsgiref, with a handler made safe to leave running.

What it adds to ``wsgiref.simple_server``:

- a per-connection ``timeout``: the request head must arrive within it, and a
  client that sends or reads nothing for that long while the body goes either
  way is dropped, so its thread and memory are freed;
- no busy loop when the process is out of file descriptors: accepting pauses
  until idle connections time out;
- request bodies sent with ``Transfer-Encoding: chunked`` are decoded (and
  ``wsgi.input_terminated`` set), never dropped;
- HTTP/1.1 responses, chunked when their length is unknown, so that a stream
  that fails half way has no last chunk; one request per connection;
- no ``Content-Length`` it cannot vouch for: none on 1xx and 204, none added to
  304s and HEADs.
"""

from __future__ import annotations

import errno
import io
import re
import socket
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingMixIn
from typing import IO, TYPE_CHECKING, Any, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException

from .http import parse_content_length

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Seconds a client may stay silent (or take to send its request head) before it is dropped.
DEFAULT_TIMEOUT = 10.0
WARNING = (
    " * This is microweb's development server (wsgiref), not made for production: deploy the app"
    " with gunicorn, waitress or one of the gateways of the manual's deployment pages (docs/deployment)."
)
_MAX_LINE = 65536  # the longest request line, header line or chunk-size line read
_MAX_TRAILERS = 100
_ACCEPT_PAUSE = 0.25  # seconds without accepting when the process has no descriptor left
_LINGER = 2.0  # seconds, at most, to read what the client still sends after the response
_LINGER_READS = 64  # and at most this many reads of 64 KB
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class DevServer(ThreadingMixIn, WSGIServer):
    """A threaded wsgiref server whose connections time out after ``timeout`` seconds of silence."""

    daemon_threads = True
    # socketserver's default listen queue is 5: with 64 clients connecting at once the kernel
    # dropped the rest, so some waited 1 to 3 s for a retry and others were reset. Let the
    # system's limit (net.core.somaxconn) decide instead.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self, address: tuple[str, int], app: WSGIApplication, *, timeout: float = DEFAULT_TIMEOUT, quiet: bool = False
    ) -> None:
        self.connection_timeout = _positive(timeout)
        self.quiet = quiet
        self.out_of_descriptors = False
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)
        self.set_app(app)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; out of file descriptors, pause instead of trying again at once."""
        try:
            request = super().get_request()
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                # The listening socket stays readable, so retrying at once would spin a core
                # until some connection closes. Idle ones time out and free their descriptors.
                if not self.out_of_descriptors:
                    print(f" * microweb: cannot accept connections ({exc.strerror}): waiting", file=sys.stderr)
                self.out_of_descriptors = True
                time.sleep(_ACCEPT_PAUSE)
            raise
        if self.out_of_descriptors:
            print(" * microweb: accepting connections again", file=sys.stderr)
            self.out_of_descriptors = False
        return request


def _positive(timeout: Any) -> float:
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:  # also NaN
        raise ValueError(f"timeout must be a number of seconds above 0, not {timeout!r}")
    return seconds


# ---------------------------------------------------------------- the connection's two directions


class _SocketReader(io.RawIOBase):
    """Reads from the client, each waiting at most the timeout, and together at most until ``deadline``."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.deadline: float | None = None  # set while the request head is read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wait = self.timeout
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:  # a client that trickles its head, a byte at a time (slowloris)
                raise TimeoutError("the request head did not arrive in time")
        self.sock.settimeout(wait)
        return self.sock.recv_into(buffer)


class _SocketWriter(io.RawIOBase):
    """Writes to the client; a client that takes nothing for the timeout raises TimeoutError.

    ``socket.sendall`` would bound the whole write instead, and cut off a slow
    client that is still reading a large body.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            self.sock.settimeout(self.timeout)
            try:
                sent += self.sock.send(view[sent:])
            except TimeoutError as exc:
                raise ClientTimeout(f"the client read nothing for {self.timeout:g} s") from exc
        return sent


class ClientTimeout(TimeoutError):
    """The client took nothing of the response for the whole timeout (not a timeout of the app's own)."""


# ---------------------------------------------------------------- wsgi.input


class BadChunkedBody(BadRequest):
    """A chunked request body that breaks the chunked coding's rules."""

    description = "The request body's chunked encoding is malformed."


class _Body:
    """The request body as ``wsgi.input``: file-like reads over the connection.

    A client that goes silent for the timeout, or closes before the body's end,
    is Werkzeug's ``ClientDisconnected`` (a 400 nobody will read), rather than a
    body that looks complete.
    """

    def __init__(self, rfile: io.BufferedReader[Any]) -> None:
        self.rfile = rfile

    def _chunk(self, size: int, line: bool) -> bytes:
        """At most ``size`` (> 0) bytes of the body, up to a newline if ``line``; b"" at its end."""
        raise NotImplementedError

    def _pull(self, size: int, line: bool) -> bytes:
        try:
            data = self.rfile.readline(size) if line else self.rfile.read1(size)
        except (TimeoutError, ConnectionError) as exc:
            raise ClientDisconnected() from exc
        if not data:
            raise ClientDisconnected()
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all the rest if negative or None)."""
        return self._gather(size, line=False)

    def readline(self, size: int | None = -1) -> bytes:
        """One line (ending with b"\\n", or at the body's end), at most ``size`` bytes."""
        return self._gather(size, line=True)

    def _gather(self, size: int | None, line: bool) -> bytes:
        wanted = sys.maxsize if size is None or size < 0 else size
        parts: list[bytes] = []
        while wanted > 0:
            data = self._chunk(min(wanted, 65536), line)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
            if line and data.endswith(b"\n"):
                break
        return b"".join(parts)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """All the lines left."""
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _SizedBody(_Body):
    """A body of ``Content-Length`` bytes; nothing past them is ever read."""

    def __init__(self, rfile: io.BufferedReader[Any], length: int) -> None:
        super().__init__(rfile)
        self.left = length

    def _chunk(self, size: int, line: bool) -> bytes:
        if not self.left:
            return b""
        data = self._pull(min(size, self.left), line)
        self.left -= len(data)
        return data


class _ChunkedBody(_Body):
    """A body sent with ``Transfer-Encoding: chunked``, decoded (RFC 9112 §7.1); the trailers are dropped."""

    def __init__(self, rfile: io.BufferedReader[Any]) -> None:
        super().__init__(rfile)
        self.left = 0  # bytes left in the current chunk
        self.done = False

    def _chunk(self, size: int, line: bool) -> bytes:
        if not self.left and not self.done:
            self._next_chunk()
        if self.done:
            return b""
        data = self._pull(min(size, self.left), line)
        self.left -= len(data)
        if not self.left:
            self._crlf()
        return data

    def _line(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):  # a line may come in several reads
            if len(line) > _MAX_LINE:
                raise BadChunkedBody("a chunk-size or trailer line is too long")
            line += self._pull(_MAX_LINE + 1 - len(line), line=True)
        if not line.endswith(b"\r\n"):
            raise BadChunkedBody("a line of the chunked encoding does not end with CRLF")
        return line[:-2]

    def _next_chunk(self) -> None:
        size = self._line().split(b";", 1)[0].strip(b" \t")  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size):
            raise BadChunkedBody(f"{size[:20]!r} is not a chunk size")
        self.left = int(size, 16)
        if not self.left:
            self.done = True
            self._trailers()

    def _crlf(self) -> None:
        if self._line():
            raise BadChunkedBody("a chunk is longer than its size")

    def _trailers(self) -> None:
        for _ in range(_MAX_TRAILERS):
            if not self._line():
                return
        raise BadChunkedBody("too many trailer lines")


# ---------------------------------------------------------------- the request


class RequestHandler(WSGIRequestHandler):
    """One request per connection: its head within the timeout, then the app."""

    server: DevServer
    protocol_version = "HTTP/1.1"  # the status line of our errors and of 100 Continue

    def setup(self) -> None:
        """Read and write the connection with the server's timeout."""
        self.connection = self.request
        self.reader = _SocketReader(self.connection, self.server.connection_timeout)
        self.input = io.BufferedReader(self.reader, 65536)
        self.output = _SocketWriter(self.connection, self.server.connection_timeout)
        self.rfile = self.input  # BaseHTTPRequestHandler parses the head and writes its errors with these
        self.wfile = cast(io.BufferedIOBase, self.output)
        self.linger = False

    def handle(self) -> None:
        """Read the request head (at most ``timeout`` seconds for all of it) and run the app."""
        self.reader.deadline = time.monotonic() + self.server.connection_timeout
        try:
            head = self._read_head()
        except TimeoutError:
            self.log_message("dropped: no request within %g s", self.server.connection_timeout)
            return
        except ConnectionError:
            return
        self.linger = True  # from here on, an answer may be on its way: let it arrive
        self.reader.deadline = None
        environ = self._environ() if head else None
        if environ is None:
            return
        out = cast("IO[bytes]", self.output)
        handler = ResponseHandler(environ["wsgi.input"], out, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self  # as wsgiref's does: it logs the request when done
        app = self.server.get_app()
        assert app is not None
        handler.run(app)

    def _read_head(self) -> bool:
        self.raw_requestline = self.input.readline(_MAX_LINE + 1)
        if not self.raw_requestline:
            return False  # connected, sent nothing, closed
        if len(self.raw_requestline) > _MAX_LINE:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return False
        return self.parse_request()

    def _environ(self) -> dict[str, Any] | None:
        """The WSGI environ, with its body as ``wsgi.input``; None if an error was sent instead."""
        environ = self.get_environ()
        codings = [c.strip().lower() for v in self.headers.get_all("Transfer-Encoding", []) for c in v.split(",")]
        if codings and self.request_version == "HTTP/1.0":  # RFC 9112 §6.1: its framing is faulty
            self.send_error(400, "Transfer-Encoding is not HTTP/1.0")
            return None
        if codings:
            if codings[-1] != "chunked":  # RFC 9112 §6.3: then no one can tell where the body ends
                self.send_error(400, "Transfer-Encoding must end with chunked")
                return None
            if codings != ["chunked"]:
                self.send_error(501, "Only the chunked transfer coding is understood")
                return None
            environ.pop("CONTENT_LENGTH", None)  # chunked wins over a Content-Length (RFC 9112 §6.3)
            environ["wsgi.input"] = _ChunkedBody(self.input)
            environ["wsgi.input_terminated"] = True  # read to b"": the app's size limits apply as it reads
            return environ
        lengths = {v.strip() for v in self.headers.get_all("Content-Length", [])}
        length = lengths.pop() if len(lengths) == 1 else "" if not lengths else "two lengths"
        try:
            size = parse_content_length(length) if length else 0
        except HTTPException as exc:  # no number (a 400), or past what int() and a stream take (a 413)
            self.send_error(exc.code or 400, exc.description)
            return None
        environ["wsgi.input"] = _SizedBody(self.input, size)
        return environ

    def finish(self) -> None:
        """Let the response reach the client before closing (see :meth:`_linger`)."""
        try:
            if self.linger:
                self._linger()
        finally:
            self.input.close()

    def _linger(self) -> None:
        """Read what the client still sends, briefly, after telling it we are done.

        Closing with unread bytes makes the kernel send a reset, which can destroy
        the response in the client's buffers: a 413 for a body too large, say.
        """
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + min(_LINGER, self.server.connection_timeout)
        for _ in range(_LINGER_READS):
            wait = deadline - time.monotonic()
            if wait <= 0:
                return
            try:
                self.connection.settimeout(wait)
                if not self.connection.recv(65536):
                    return
            except OSError:
                return

    def log_message(self, format: str, *args: Any) -> None:
        """Log a line to stderr, unless the server is quiet."""
        if not self.server.quiet:
            BaseHTTPRequestHandler.log_message(self, format, *args)


# ---------------------------------------------------------------- the response


class ResponseHandler(ServerHandler):
    """wsgiref's response handler, speaking HTTP/1.1 and never sending a Content-Length it cannot vouch for."""

    request_handler: RequestHandler
    # Set by wsgiref's BaseHandler, which typeshed does not declare:
    status: str | None
    headers: Headers | None
    environ: dict[str, Any]
    headers_sent: bool
    bytes_sent: int
    http_version = "1.1"
    os_environ: dict[str, str] = {}  # wsgiref copies the server's own environment into every request
    chunked = False

    def _no_body(self) -> bool:
        """Whether this response has no body at all: to a HEAD, or a 1xx, 204 or 304 (RFC 9110 §6.4.1)."""
        code = int(str(self.status)[:3])
        return self.environ["REQUEST_METHOD"] == "HEAD" or code < 200 or code in (204, 304)

    def cleanup_headers(self) -> None:
        """Frame the body: the app's Content-Length, one worked out, chunked, or to the close."""
        assert self.headers is not None
        code = int(str(self.status)[:3])
        if code < 200 or code == 204:
            del self.headers["Content-Length"]  # RFC 9110 §8.6: never on these
        if "Content-Length" in self.headers:
            pass
        elif not self._no_body():
            self.set_content_length()  # wsgiref's: the length of a body in one piece
            if "Content-Length" not in self.headers and self._client_reads_chunks():
                self.headers["Transfer-Encoding"] = "chunked"
                self.chunked = True
        elif self.environ["REQUEST_METHOD"] == "HEAD" and self.bytes_sent and code not in (204, 304):
            self.set_content_length()  # the app sent a HEAD its GET's body, in one piece: that is its length
        self.headers["Connection"] = "close"

    def _client_reads_chunks(self) -> bool:
        protocol = str(self.environ["SERVER_PROTOCOL"])
        return protocol.startswith("HTTP/1.") and protocol != "HTTP/1.0"  # not 1.0, nor 0.9

    def write(self, data: bytes) -> None:
        """Send ``data`` (after the headers, the first time), as a chunk if chunked; nothing where no body goes."""
        assert type(data) is bytes, "write() argument must be a bytes instance"
        if not self.status:
            raise AssertionError("write() before start_response()")
        if not self.headers_sent:
            self.bytes_sent = len(data)
            self.send_headers()
        else:
            self.bytes_sent += len(data)
        if not data or self._no_body():
            return
        if self.chunked:  # an empty chunk would end the body: skipped above
            self._write(b"%x\r\n" % len(data))
            self._write(data)
            self._write(b"\r\n")
        else:
            self._write(data)
        self._flush()

    def finish_content(self) -> None:
        """End the body: the last chunk, or the headers of an empty body with its length (0)."""
        if not self.headers_sent:
            assert self.headers is not None
            if not self._no_body():
                self.headers.setdefault("Content-Length", "0")
            self.send_headers()
        elif self.chunked:
            self._write(b"0\r\n\r\n")
            self._flush()

    def handle_error(self) -> None:
        """A client that stopped reading is dropped with a line in the log; other errors as wsgiref does."""
        error = sys.exc_info()[1]
        if isinstance(error, ClientTimeout):
            self.request_handler.log_message("dropped: %s", error)
            self.request_handler.linger = False  # it reads nothing: nothing to wait for
            return
        super().handle_error()
