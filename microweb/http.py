"""HTTP and WSGI chores, one helper each: header checks, URL and log escaping, WSGI strings, hosts, prefixes.

Everything here is a pure function of its arguments, so the pipeline in ``app.py``,
the request context and the server adapters share one definition of each rule.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.urls import iri_to_uri
from werkzeug.wsgi import get_host

__all__ = [
    "HOP_BY_HOP",
    "SPECIAL_HEADERS",
    "USUAL_NAMES",
    "check_headers",
    "check_trusted_host",
    "escape_for_log",
    "header_problem",
    "is_loopback",
    "is_token",
    "is_uri",
    "parse_content_length",
    "quote_unsafe_in_url",
    "refused",
    "usual_name",
    "describe_request",
    "normalise_prefix",
    "split_prefix",
    "wsgi_decoded",
]

# ---------------------------------------------------------------- response headers

#: Headers that belong to one connection, not to the response (RFC 9110 7.6.1); PEP 3333
#: forbids an application to send them, and wsgiref and waitress raise when one does.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# A header name is an HTTP token; a status or header value holds tabs, spaces and visible Latin-1
# characters only (RFC 9110 5.5), so no CR, LF or NUL can end its line and start another one.
_NOT_TOKEN = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_NOT_FIELD_TEXT = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_URL_HEADERS = frozenset({"location", "content-location"})
#: The (lower-case) headers :func:`header_problem` checks apart: hop-by-hop ones, URLs and cookies.
SPECIAL_HEADERS = HOP_BY_HOP | _URL_HEADERS | {"set-cookie"}
# RFC 6265 4.1.1: a cookie-value is cookie-octets (no blank, DQUOTE, comma, semicolon or backslash), or
# them in DQUOTEs; quoted, Werkzeug's dump_cookie also writes blanks and escapes (\" \\ \073).
_COOKIE_VALUE = re.compile(
    r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[0-7"\\])*"'
)


def is_token(text: str) -> bool:
    """Whether ``text`` is an HTTP token (RFC 9110 5.6.2), as header and cookie names must be."""
    return bool(text) and _NOT_TOKEN.search(text) is None


def _cookie_problem(value: str) -> str | None:
    """Why a Set-Cookie value must not be sent: its ``name=value`` before the first ``;`` is not RFC 6265's."""
    pair = value.partition(";")[0]
    name, equals, cookie_value = pair.partition("=")
    name = name.strip(" \t")
    shown = escape_for_log(name[:100])  # the name, never the value: that may be a secret
    if not equals or not is_token(name):
        return f"The Set-Cookie header of the cookie {shown!r} has a name that is not an HTTP token"
    if not _COOKIE_VALUE.fullmatch(cookie_value.strip(" \t")):
        return f"The Set-Cookie header of the cookie {shown!r} has a value that is not cookie-octets (RFC 6265)"
    return None


def header_problem(status: str | None, headers: Iterable[tuple[str, str]]) -> str | None:
    """Why this status and these headers must not be sent, or None if they may (``status`` None: the headers only).

    Refused: a control character in the status, a header name that is not an HTTP
    token, a value with CR, LF, NUL or another control character (header injection),
    a URL header that cannot be made a URI, hop-by-hop headers (PEP 3333), and a
    ``Set-Cookie`` whose cookie name is not a token or whose value is not RFC 6265's.
    The message names the header (or cookie), never the value: that may be anything a client sent.
    """
    if status is not None and _NOT_FIELD_TEXT.search(status):
        return "The response status has a control or non-Latin-1 character"
    for name, value in headers:
        usual = USUAL_NAMES.get(name)
        if usual is None:
            usual = usual_name(name)
        if not usual:
            problem = _unusual_problem(name, value)
            if problem is not None:
                return problem
        elif not (value.isascii() and value.isprintable()) and _NOT_FIELD_TEXT.search(value):
            # PERF: str methods answer for the usual values, much cheaper than a regex search
            return _BAD_VALUE.format(name)
    return None


#: Header names of the usual kind -> their lower case, else "" (see :func:`usual_name`).
#: PERF: one dict read per header instead of the tests. Bounded: a name may come from a request.
USUAL_NAMES: dict[str, str] = {}


def usual_name(name: str) -> str:
    """``name`` in lower case if it is of the usual kind, else "": ASCII letters, digits and ``-`` (so an
    HTTP token), and none of the :data:`SPECIAL_HEADERS`; such a header needs only the value check."""
    lower = name.lower()
    if not (name.isascii() and name.replace("-", "").isalnum()) or lower in SPECIAL_HEADERS:
        lower = ""
    if len(USUAL_NAMES) < 256 and type(name) is str:
        USUAL_NAMES[name] = lower
    return lower


def _unusual_problem(name: str, value: str) -> str | None:
    """Why the header ``name``, not of the usual kind (:func:`usual_name`), must not be sent, or None."""
    if not (name.isascii() and name.replace("-", "").isalnum()) and (not name or _NOT_TOKEN.search(name)):
        return f"The response header name {name!r} is not an HTTP token"
    lower = name.lower()
    if lower in SPECIAL_HEADERS:
        return _special_problem(name, lower, value)
    if not (value.isascii() and value.isprintable()) and _NOT_FIELD_TEXT.search(value):
        return _BAD_VALUE.format(name)
    return None


_BAD_VALUE = "The value of the response header {!r} has CR, LF, NUL, another control or non-Latin-1 text"


def _special_problem(name: str, lower: str, value: str) -> str | None:
    """Why the header ``name`` (``lower`` in lower case, one of ``SPECIAL_HEADERS``) must not be sent, or None."""
    if lower in HOP_BY_HOP:
        return f"The response header {name!r} is hop-by-hop, which only the server may send (PEP 3333)"
    if lower in _URL_HEADERS:
        # Werkzeug makes these URIs when it sends them (iri_to_uri), where a failure would escape
        # every handler. Only a URL with a host ("//") can fail: the rest skip the cost. Werkzeug
        # percent-encodes the other controls there, but refuses CR and LF (its Headers), as here.
        if "\r" in value or "\n" in value:
            return _BAD_VALUE.format(name)
        if "//" in value:
            try:
                iri_to_uri(value)
            except ValueError:
                return f"The value of the response header {name!r} is not a URL"
        return None
    if _NOT_FIELD_TEXT.search(value):
        return _BAD_VALUE.format(name)
    return _cookie_problem(value)


def check_headers(status: str, headers: Iterable[tuple[str, str]]) -> None:
    """Raise ValueError if this status and these headers must not be sent (see :func:`header_problem`)."""
    problem = header_problem(status, headers)
    if problem is not None:
        raise refused(problem)


def refused(problem: str) -> ValueError:
    """The error for a response refused for ``problem`` (see :func:`header_problem`); it becomes a logged 500."""
    return ValueError(f"{problem}: the response is refused, so nothing can be injected into it.")


# ---------------------------------------------------------------- URLs and log lines

_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def quote_unsafe_in_url(url: str) -> str:
    """``url`` with its control characters and spaces percent-encoded, so it fits in a header line."""
    # Encoded, not dropped as iri_to_uri drops CR, LF and tab: "/\n/evil.example" must not become "//evil.example".
    return _UNSAFE_IN_URL.sub(lambda found: f"%{ord(found.group()):02X}", url)


# A path-absolute URL (and query) of characters that iri_to_uri leaves as they are; no "//", "#" or empty query.
_PLAIN_URI = re.compile(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]+)?")


def is_uri(url: str) -> bool:
    """Whether Werkzeug's ``iri_to_uri`` would return ``url`` unchanged, judged cheaply (False: maybe not).

    True only for a path-absolute URL such as ``/docs/?page=2`` of plain ASCII
    characters; ``tests/test_http.py`` checks the claim against ``iri_to_uri``.
    """
    return _PLAIN_URI.fullmatch(url) is not None


# C0 and C1 controls and DEL: CR, LF and NEL (U+0085) end a line under str.splitlines() and in log viewers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_for_log(text: str) -> str:
    """``text`` with its control characters escaped (``\\x0a``), so a client's text cannot forge log lines."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def describe_request(environ: Mapping[str, Any], endpoint: str | None) -> str:
    """The request in a log line: method, full path and endpoint, escaped by :func:`escape_for_log`."""
    path = wsgi_decoded(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    return escape_for_log(f"{environ.get('REQUEST_METHOD')} {path} [{endpoint}]")


# ---------------------------------------------------------------- request bodies

_LENGTH = re.compile(r"[ \t]*([0-9]+)[ \t]*", re.ASCII)
_MAX_LENGTH_DIGITS = len(str(sys.maxsize))


def parse_content_length(value: str) -> int:
    """The body length a Content-Length header gives.

    Raises BadRequest (a 400) when it is no plain number (RFC 9112 6.3), and
    RequestEntityTooLarge (a 413) when it is over ``sys.maxsize``, which no stream
    can read: compared as text first, since ``int()`` refuses more than 4,300 digits.
    """
    if len(value) < _MAX_LENGTH_DIGITS and value.isascii() and value.isdigit():
        return int(value)  # PERF: the usual header, plain digits, below sys.maxsize
    found = _LENGTH.fullmatch(value)
    if found is None:
        raise BadRequest("The Content-Length header is not a number.")
    digits = found.group(1).lstrip("0") or "0"
    if len(digits) > _MAX_LENGTH_DIGITS or int(digits) > sys.maxsize:
        raise RequestEntityTooLarge("The Content-Length is larger than any body this server takes.")
    return int(digits)


# ---------------------------------------------------------------- WSGI strings, hosts and prefixes


def wsgi_decoded(value: str) -> str:
    """A WSGI string (bytes as Latin-1, PEP 3333) as the UTF-8 text URLs carry; bad bytes become U+FFFD."""
    return value if value.isascii() else value.encode("latin-1").decode("utf-8", "replace")


def check_trusted_host(environ: Mapping[str, Any], trusted_hosts: Iterable[str] | None) -> None:
    """Raise Werkzeug's SecurityError (a 400) when ``trusted_hosts`` is set and the Host is not in it."""
    if trusted_hosts:
        get_host(environ, list(trusted_hosts))  # type: ignore[arg-type]


def split_prefix(path: str, prefix: str) -> str | None:
    """What follows ``prefix`` in ``path`` (a path or empty), or None when ``path`` is not under it.

    ``prefix`` is normalised (:func:`normalise_prefix`); ``/apple`` is not under ``/app``.
    """
    if path == prefix:
        return ""
    if path.startswith(prefix + "/") or not prefix:
        return path[len(prefix) :]
    return None


def normalise_prefix(prefix: str) -> str:
    """``app/``, ``/app`` and ``/app/`` as ``/app``; the root as the empty string."""
    stripped = prefix.strip("/")
    return "/" + stripped if stripped else ""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine: ``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # any other name may resolve to an address others can reach
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)
