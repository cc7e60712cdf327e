"""Hypothesis strategies for hostile HTTP requests, and their two renderings: a WSGI environ and raw bytes.

A generated request is what a client may send: any method, a percent-encoded path with invalid UTF-8,
``..`` and empty segments, a raw query string, a header set with cookies, and a body of any content
type, well-formed or broken, with a Content-Length that may be wrong.
"""

from __future__ import annotations

import io
import json
import re
import sys
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from hypothesis import strategies as st

from .app import MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE, MAX_FORM_PARTS

# What the validator's environ check accepts as a method; anything else is passed to the app past it.
VALIDATOR_METHODS = {"GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE"}


class HostileRequest:
    """One generated request. ``target`` is the request-target as sent: percent-encoded, Latin-1 text.

    ``content_length`` is the Content-Length header as sent: None for none, else any text (it may lie).
    """

    def __init__(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_length: str | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers or []
        self.body = body
        self.content_length = content_length

    def __repr__(self) -> str:
        # Short enough for a failure report (not a dataclass, which Hypothesis would print whole).
        def cut(value: object) -> str:
            text = repr(value)
            return text if len(text) <= 300 else f"{text[:200]}...[{len(text)} chars]...{text[-60:]}"

        fields = (self.method, self.target, self.headers, self.body, self.content_length)
        return "HostileRequest(" + ", ".join(map(cut, fields)) + ")"

    def text(self) -> str:
        """Everything the client chose, as text, to tell echoed input from the app's own words."""
        parts = [self.method, self.target, unquote_to_bytes(self.target).decode("latin-1")]
        parts += [f"{name}: {value}" for name, value in self.headers]
        return "\n".join(parts) + "\n" + self.body.decode("latin-1")


# ---------------------------------------------------------------- paths and query strings

ROUTE_SEGMENTS = ["s", "i", "r", "f", "p", "u", "a", "len", "q", "json", "form", "upload", "data", "cookies"]
ROUTE_SEGMENTS += ["session", "go", "static", "hello.txt", "silent", "red", "green", "abc"]
WEIRD_SEGMENTS = ["..", ".", "", "%2e%2e", "..%2f", "%2F", "%00", "%ff", "%fe%ff", "%c3%28", "%e2%82", "%"]
WEIRD_SEGMENTS += ["%2", "%zz", "%0d%0aX-Injected:%201", "%c3%bc", "\u00ff", "-1", "0", "00", "99999999999999999999"]
WEIRD_SEGMENTS += ["1.5", "-2.5", "1e5", "nan", "inf", "12345678-1234-5678-1234-567812345678", "not-a-uuid"]
WEIRD_SEGMENTS += ["~user", "a;b=c", "a b", "+", "%20", "%3F", "%23", "\\", ";"]


def _encoded(raw: bytes) -> str:
    """Raw bytes percent-encoded, with a few characters left as they are, as clients do."""
    return quote(raw, safe="/;=+~!$&'()*,:@")


segment = st.one_of(
    st.sampled_from(ROUTE_SEGMENTS),
    st.sampled_from(WEIRD_SEGMENTS),
    st.binary(max_size=12).map(_encoded),
    st.text(max_size=8).map(lambda text: _encoded(text.encode("utf-8", "surrogatepass"))),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    """A percent-encoded path: route-like segments mixed with hostile ones."""
    if draw(st.integers(0, 19)) == 0:  # authority-form, as CONNECT sends it: no leading slash
        return draw(st.sampled_from(["127.0.0.1:443", "example.com:80", "i/21", "x"]))
    parts = draw(st.lists(segment, max_size=6))
    path = "/" + "/".join(parts)
    if draw(st.integers(0, 9)) == 0:
        path = "/" * draw(st.integers(1, 3)) + path  # doubled leading slashes
    return path


query_value = st.one_of(
    st.sampled_from(["", "1", "/s/x", "//evil.example", "/\\evil", "http://evil.example/", "/a\r\nSet-Cookie: x=1"]),
    st.sampled_from(["/%0d%0aX-Injected:%201", "/\x00", "/\x7f", "/\u20ac", "/a b", "/\t", "http://[", "/[::1"]),
    st.text(max_size=16),
)


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """A raw query string: encoded pairs (next, v, note are read by views), or bytes as they come."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=24)).decode("latin-1").replace("#", "").replace(" ", "+")
    keys = st.sampled_from(["next", "next", "v", "note", "a", "a", "", "%ff", "k[]", "x=y"])
    pairs = draw(st.lists(st.tuples(keys, query_value), max_size=4))
    return "&".join(f"{key}={_encoded(value.encode('utf-8', 'surrogatepass'))}" for key, value in pairs)


# ---------------------------------------------------------------- bodies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """JSON: valid, cut short, nested past any parser's depth, huge numbers, or not JSON at all."""
    valid = json.dumps(draw(json_values)).encode()
    depth = draw(st.sampled_from([50, 900, 1100, 5000, 20_000]))
    return draw(
        st.sampled_from(
            [
                valid,
                valid[: draw(st.integers(0, max(len(valid) - 1, 0)))],
                b"[" * depth + b"]" * depth,
                b'{"a":' * depth + b"1" + b"}" * depth,
                b"[" * depth,
                b"1" * 5000,  # past int()'s digit limit
                b"1e999999",
                b"NaN",
                b'"\\ud800"',  # a lone surrogate
                b"\xff\xfe{}",
                b"\x00",
                b"",
            ]
        )
    )


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "hostileboundary") -> bytes:
    """A multipart/form-data body: (field name, file name or None, content) per part."""
    out = io.BytesIO()
    for name, filename, content in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out.write(f"Content-Disposition: {disposition}\r\n".encode("utf-8", "surrogatepass"))
        if filename is not None:
            out.write(b"Content-Type: application/octet-stream\r\n")
        out.write(b"\r\n" + content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


part_name = st.sampled_from(["a", "file", "f", "", 'q"uote', "\u00fc", "x" * 300])


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    """multipart/form-data: valid, over the field and part limits, or broken in one of many ways."""
    parts = draw(
        st.lists(
            st.tuples(
                part_name,
                st.none() | st.sampled_from(["f.txt", "../../etc/passwd", "", "a\x00b"]),
                st.binary(max_size=64),
            ),
            max_size=5,
        )
    )
    body = multipart(parts)
    return draw(
        st.sampled_from(
            [
                body,
                body[: draw(st.integers(0, len(body)))],  # cut short
                multipart([("big", None, b"x" * (MAX_FORM_MEMORY_SIZE + 1))]),
                multipart([("big", "big.bin", b"x" * (MAX_FORM_MEMORY_SIZE + 1))]),  # files may be larger
                multipart([(f"k{i}", None, b"v") for i in range(MAX_FORM_PARTS + 1)]),
                body.replace(b"\r\n", b"\n"),
                body.replace(b"--hostileboundary", b"--otherboundary"),
                b"--hostileboundary\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--hostileboundary--\r\n",
                b"--hostileboundary\r\n" + b"X-Long: " + b"h" * 9000 + b"\r\n\r\n",
                b"--hostileboundary--\r\n",
                draw(st.binary(max_size=64)),
            ]
        )
    )


def urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """An application/x-www-form-urlencoded body."""
    return "&".join(f"{_encoded(k.encode())}={_encoded(v.encode('utf-8', 'surrogatepass'))}" for k, v in pairs).encode()


form_bodies = st.one_of(
    st.lists(st.tuples(st.sampled_from(["a", "b", "", "%"]), st.text(max_size=10)), max_size=5).map(urlencoded),
    st.binary(max_size=40),
    st.just(b"a=" + b"x" * (MAX_FORM_MEMORY_SIZE + 1)),
    st.just(b"&" * 5000),
)

CONTENT_TYPES: dict[str, Any] = {
    "application/json": json_bodies(),
    "application/x-www-form-urlencoded": form_bodies,
    "multipart/form-data; boundary=hostileboundary": multipart_bodies(),
    "multipart/form-data": multipart_bodies(),  # no boundary
    'multipart/form-data; boundary=""': multipart_bodies(),
    "multipart/mixed; boundary=hostileboundary": multipart_bodies(),
    "text/plain; charset=utf-8": st.binary(max_size=64),
    "application/json; charset=bogus-charset": json_bodies(),
    "application/octet-stream": st.binary(max_size=64),
    "": st.binary(max_size=16),
    "garbage/\x00; ;;=; boundary": st.binary(max_size=16),
}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A Content-Type (empty: none) and a body meant for it, or for another type."""
    content_type = draw(st.sampled_from(sorted(CONTENT_TYPES)))
    body = draw(
        CONTENT_TYPES[draw(st.sampled_from(sorted(CONTENT_TYPES)))]
        if draw(st.integers(0, 5)) == 0
        else CONTENT_TYPES[content_type]
    )
    if draw(st.integers(0, 30)) == 0:
        body = b"x" * (MAX_CONTENT_LENGTH + 1)
    return content_type, body


# ---------------------------------------------------------------- headers

header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
HEADER_CHOICES: dict[str, Any] = {
    "Accept": st.sampled_from(["application/json", "text/html", "*/*", "application/*;q=x", "json;;;", ""]),
    "Cookie": st.one_of(
        st.sampled_from(["session=garbage", "session=", 'session="\\"', "a=b; a=c", "=;;=", "seen=\u00ff"]),
        st.sampled_from(["session=eyJ2aXNpdHMiOjF9.ZZZZZZ.ZZZZZZZZZZZZZZZZZZZZZZZZZZZ", "x" * 5000]),
        header_text,
    ),
    "Host": st.sampled_from(["localhost", "example.com:80", "[::1]:8080", "a" * 300, "bad host", "h:notaport"]),
    "If-None-Match": st.sampled_from(['"x"', "*", "W/", '"' * 3, "garbage"]),
    "If-Modified-Since": st.sampled_from(["Tue, 15 Nov 1994 08:12:31 GMT", "yesterday", "", "Mon, 99 Foo 0000"]),
    "Range": st.sampled_from(["bytes=0-1", "bytes=5-1", "bytes=-0", "bytes=0-,1-,2-", "lines=1-2", "bytes=x"]),
    "Authorization": st.sampled_from(["Basic ???", "Basic " + "A" * 100, "Bearer", "Digest a=b"]),
    "X-CSRF-Token": header_text,
    "X-Forwarded-For": st.sampled_from(["1.2.3.4, 5.6.7.8", "garbage", ""]),
    "User-Agent": header_text,
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip", "identity"]),
}


@st.composite
def header_sets(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A few headers from the list above, plus made-up ones; repeats allowed."""
    names = draw(st.lists(st.sampled_from(sorted(HEADER_CHOICES)), max_size=5))
    headers = [(name, draw(HEADER_CHOICES[name])) for name in names]
    extra_name = st.from_regex(r"\AX-[A-Za-z0-9-]{1,12}\Z")
    headers += draw(st.lists(st.tuples(extra_name, header_text), max_size=2))
    return headers


# ---------------------------------------------------------------- whole requests

METHODS = ["GET", "GET", "HEAD", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get", "PROPFIND"]
CONTENT_LENGTHS = ["bigger", "smaller", "missing", "abc", "-1", "1e3", "99999999999999999999", " 4", "0"]
#: The app's routes as (path with {} for a segment, methods, the Content-Type its view reads), so that
#: most requests reach a view rather than a 404.
ROUTES = [
    ("/", "GET", ""),
    ("/s/{}", "GET POST", ""),
    ("/i/{}", "GET", ""),
    ("/r/{}", "GET", ""),
    ("/f/{}", "GET", ""),
    ("/p/{}/{}", "GET", ""),
    ("/u/{}", "GET", ""),
    ("/a/{}", "GET", ""),
    ("/len/{}/", "GET", ""),
    ("/q", "GET", ""),
    ("/json", "POST", "application/json"),
    ("/json/silent", "POST PUT", "application/json"),
    ("/form", "POST PUT PATCH", "application/x-www-form-urlencoded"),
    ("/upload", "POST", "multipart/form-data; boundary=hostileboundary"),
    ("/data", "POST PUT DELETE", "application/octet-stream"),
    ("/cookies", "GET", ""),
    ("/session", "GET POST", ""),
    ("/go", "GET", ""),
    ("/static/{}", "GET HEAD", ""),
]


@st.composite
def requests(draw: st.DrawFn) -> HostileRequest:
    """A whole hostile request, most of the time for one of the app's routes."""
    route, methods, route_type = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 3)) == 0:
        path = draw(paths())
    else:
        path = route.format(*(draw(segment) for _ in range(route.count("{}"))))
    method = draw(st.sampled_from(methods.split()) if draw(st.integers(0, 3)) else st.sampled_from(METHODS))
    query = draw(query_strings())
    target = path + (f"?{query}" if query or draw(st.booleans()) else "")
    headers = draw(header_sets())
    content_type, body = "", b""
    if method not in ("GET", "HEAD") or draw(st.integers(0, 4)) == 0:
        content_type, body = draw(bodies())
        if route_type and draw(st.integers(0, 2)):
            content_type, body = route_type, draw(CONTENT_TYPES[route_type])
    if content_type:
        headers.append(("Content-Type", content_type))
    length: str | None = str(len(body)) if body or method in ("POST", "PUT", "PATCH") else None
    if draw(st.integers(0, 6)) == 0:
        wrong = draw(st.sampled_from(CONTENT_LENGTHS))
        length = {"bigger": str(len(body) + 10), "smaller": str(max(len(body) - 3, 0)), "missing": None}.get(
            wrong, wrong
        )
    return HostileRequest(method, target, headers, body, length)


# ---------------------------------------------------------------- renderings


def environ(req: HostileRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """The environ a WSGI server builds from ``req``, and the values that only a lax server passes on.

    The second dict holds what ``wsgiref.validate`` refuses in an environ (methods it does not know, a
    Content-Length that is not a number) but a server like wsgiref's passes as it came: the tests set
    them past the validator's environ check, so the app still meets them.
    """
    path, _, query = req.target.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # what servers hand over
        "QUERY_STRING": query,
        "RAW_URI": req.target,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in req.headers:
        key = name.upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        if key in env:  # repeated headers are joined, as servers do (cookies with "; ")
            value = env[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        env[key] = value
    lax: dict[str, str] = {}
    if not env["PATH_INFO"].startswith("/"):  # gunicorn passes a CONNECT's host:port on
        lax["PATH_INFO"] = env["PATH_INFO"]
        env["PATH_INFO"] = "/"
    if req.method not in VALIDATOR_METHODS:
        lax["REQUEST_METHOD"] = req.method
        env["REQUEST_METHOD"] = "GET"
    if req.content_length is not None:
        if req.content_length.isdigit():
            env["CONTENT_LENGTH"] = req.content_length
        else:
            lax["CONTENT_LENGTH"] = req.content_length
    return env, lax


def raw_bytes(req: HostileRequest) -> bytes:
    """``req`` as an HTTP/1.1 message on the wire, closing the connection after it.

    What may not stand in a request line as it is (spaces, controls, bytes past ASCII) is
    percent-encoded, so the request reaches the app: the malformed lines are tested on their own.
    """
    target = re.sub(r"[^\x21-\x7e]", lambda found: f"%{ord(found.group()):02X}", req.target)
    lines = [f"{req.method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in req.headers if name.lower() != "host"]
    if req.content_length is not None:
        lines.append(f"Content-Length: {req.content_length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body
