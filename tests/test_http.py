"""The HTTP and WSGI chores of microweb.http, each checked on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import SecurityError
from werkzeug.urls import iri_to_uri

from microweb.http import (
    HOP_BY_HOP,
    check_trusted_host,
    escape_for_log,
    header_problem,
    is_uri,
    normalise_prefix,
    split_prefix,
    wsgi_decoded,
)

_URL_PIECES = list("/?#%:@!$&'()*+,;=-._~ aZ09\"<>[]{}|\\^`é\r\n\t") + ["//", "http:", "?x=", "%41", "/a"]
_URL_TEXT = st.lists(st.sampled_from(_URL_PIECES), max_size=15).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_URL_TEXT)
def test_is_uri_claims_only_what_iri_to_uri_leaves_unchanged(url: str) -> None:
    if is_uri(url):
        assert iri_to_uri(url) == url


@pytest.mark.parametrize("url", ["/new", "/docs/?page=2", "/a/b;c=d?x=1&y=2", "/%7Efred", "/a:b@c"])
def test_is_uri_takes_the_usual_redirect_targets(url: str) -> None:
    assert is_uri(url) and iri_to_uri(url) == url


@pytest.mark.parametrize("url", ["//evil.example/", "http://example.com/", "/a#b", "/a?", "/é", "/a b", "relative"])
def test_is_uri_leaves_the_rest_to_werkzeug(url: str) -> None:
    assert not is_uri(url)


@pytest.mark.parametrize("name", sorted(HOP_BY_HOP) + ["Connection", "Transfer-Encoding", "KEEP-ALIVE"])
def test_hop_by_hop_headers_are_refused_by_name(name: str) -> None:
    problem = header_problem("200 OK", [("X-Fine", "1"), (name, "close")])
    assert problem is not None and repr(name) in problem and "hop-by-hop" in problem


@pytest.mark.parametrize(
    "text",
    ["a\rb", "a\nb", "a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\x9fb", "a\u0085\u0080b"],
)
def test_log_escaping_leaves_no_control_character(text: str) -> None:
    escaped = escape_for_log(text)
    assert escaped.splitlines() == [escaped]  # NEL (U+0085) splits a line under str.splitlines()
    assert all(ch >= " " and not ("\x7f" <= ch <= "\x9f") for ch in escaped)
    assert escaped.startswith("a\\x") and escaped.endswith("b")


@given(st.text(max_size=40))
def test_log_escaping_never_splits_a_line(text: str) -> None:
    assert len(escape_for_log(text).splitlines()) <= 1


def test_wsgi_strings_are_decoded_as_utf8() -> None:
    assert wsgi_decoded("/caf\xc3\xa9") == "/café"  # bytes as latin-1, as PEP 3333 hands them over
    assert wsgi_decoded("/\xff") == "/\ufffd"
    assert wsgi_decoded("/plain") == "/plain"


@pytest.mark.parametrize(
    ("path", "prefix", "rest"),
    [
        ("/app", "/app", ""),
        ("/app/", "/app", "/"),
        ("/app/x/y", "/app", "/x/y"),
        ("/apple", "/app", None),
        ("/other", "/app", None),
        ("/x", "", "/x"),
    ],
)
def test_split_prefix(path: str, prefix: str, rest: str | None) -> None:
    assert split_prefix(path, prefix) == rest


@pytest.mark.parametrize(("prefix", "normal"), [("app", "/app"), ("/app/", "/app"), ("/", ""), ("", "")])
def test_normalise_prefix(prefix: str, normal: str) -> None:
    assert normalise_prefix(prefix) == normal


def test_trusted_host_check() -> None:
    environ = {"HTTP_HOST": "evil.example", "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    check_trusted_host(environ, None)  # no list: anything goes
    check_trusted_host(environ, ["evil.example"])
    with pytest.raises(SecurityError):
        check_trusted_host(environ, ["example.com"])
