"""The HTTP and WSGI chores of microweb.http, each checked on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, SecurityError
from werkzeug.http import dump_cookie, parse_cookie
from werkzeug.urls import iri_to_uri

from microweb import Response
from microweb.http import (
    HOP_BY_HOP,
    check_trusted_host,
    escape_for_log,
    header_problem,
    is_token,
    is_uri,
    normalise_prefix,
    parse_content_length,
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


# ---------------------------------------------------------------- Set-Cookie and Content-Length

_COOKIE_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09!#$%&'*+-.^_`|~ \t;=,\"\\()<>@[]{}/:?é\u00ff\x7f")), max_size=12
)


@settings(max_examples=700, deadline=None)
@given(name=_COOKIE_TEXT, value=st.text(max_size=20).map("SECRET".__add__))
def test_a_cookie_name_that_is_no_token_is_refused_and_every_value_is_sent_safely(name: str, value: str) -> None:
    if is_token(name):
        response = Response()
        response.set_cookie(name, value, max_age=60, httponly=True, samesite="Lax")
        header = response.headers["Set-Cookie"]
        assert header_problem("200 OK", [("Set-Cookie", header)]) is None, header  # any value: quoted and escaped
        assert parse_cookie(header.partition(";")[0]).to_dict() == {name: value}  # and read back as it was
        return
    with pytest.raises(ValueError, match="not an HTTP token") as refused:
        Response().set_cookie(name, value)
    assert "SECRET" not in str(refused.value)
    # Set by hand (Werkzeug's dump_cookie writes the name as it is): the header check refuses it in turn.
    problem = header_problem("200 OK", [("Set-Cookie", dump_cookie(name, value))])
    if "=" not in name and not is_token(name.strip(" \t")):  # "a=b" reads as the token "a"; " a" as "a"
        assert problem is not None and "Set-Cookie" in problem
        assert "SECRET" not in problem  # the cookie is named, its value never shown


@pytest.mark.parametrize(
    "header",
    [
        "x; Domain=evil.example=v; Path=/",  # a name with ";": attributes of its own
        "a b=v; Path=/",
        "=v",
        "novalue",
        'n="unterminated; Path=/',
        "n=a b",
        "n=a,b",
        "n=a\\b",
        'n=a"b',
        "n=caf\u00e9",
    ],
)
def test_a_hand_made_set_cookie_that_is_not_rfc_6265_is_refused(header: str) -> None:
    problem = header_problem("200 OK", [("Set-Cookie", header)])
    assert problem is not None and "Set-Cookie" in problem


@pytest.mark.parametrize("header", ["n=v", "n=v; Path=/; HttpOnly", 'n="a b\\073"', "n=", "n=a=b; Max-Age=0"])
def test_an_rfc_6265_set_cookie_passes(header: str) -> None:
    assert header_problem("200 OK", [("Set-Cookie", header)]) is None


@pytest.mark.parametrize(
    ("text", "length"),
    [("0", 0), ("12", 12), (" 12\t", 12), ("007", 7), ("9" * 18, 10**18 - 1), (str(2**63 - 1), 2**63 - 1)],
)
def test_content_length_is_read_as_a_plain_number(text: str, length: int) -> None:
    assert parse_content_length(text) == length


@pytest.mark.parametrize("text", ["-1", "+1", "1e3", "12abc", "0x10", "1 2", "\u00b2", "\u0661", ""])
def test_a_content_length_that_is_no_number_is_a_400(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_content_length(text)


@pytest.mark.parametrize("text", [str(2**63), "9" * 20, "9" * 4301, "9" * 100_000, "0" * 5000 + "1" * 5000])
def test_a_content_length_over_any_size_is_a_413_without_int_failing(text: str) -> None:
    with pytest.raises(RequestEntityTooLarge):
        parse_content_length(text)


def test_header_checks_agree_with_the_rfc_character_classes_on_generated_names_and_values() -> None:
    # header_problem answers the usual names and values with str methods before any regex: the
    # answers must be exactly the RFC's (tokens: RFC 9110 5.6.2; field text: tab, visible, obs-text).
    import random
    import re

    not_field_text = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
    rng = random.Random(1616)
    alphabet = [chr(c) for c in range(0x180)] + ["-"] * 40 + ["\u2028", "\ud800", "\U0001f600"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
        for _ in range(2):  # the second time, the name's kind may come from USUAL_NAMES
            name_ok = header_problem("200 OK", [(text, "v")]) is None
            assert name_ok == (bool(text) and is_token(text) and text.lower() not in HOP_BY_HOP), repr(text)
            value_ok = header_problem("200 OK", [("X-Value", text)]) is None
            assert value_ok == (not_field_text.search(text) is None), repr(text)


_NAMES = ["X-Fine", "Location", "location", "Content-Location", "Set-Cookie", "Connection", "TE", "x_y", "", "A b"]


@pytest.mark.parametrize("name", [*_NAMES, "\u00c4", "X-\u00c4"])
@pytest.mark.parametrize("value", ["1", "/a b", "http://[", "a=b", "a\x00b", "caf\u00e9", "a\tb", "\u0100", "\x7f"])
def test_a_name_of_a_known_kind_gets_the_full_checks_answer(name: str, value: str) -> None:
    # USUAL_NAMES remembers a name's kind: the answer, first and later, is the full per-header check's.
    from microweb.http import USUAL_NAMES, _unusual_problem

    USUAL_NAMES.pop(name, None)
    for _ in range(2):
        assert header_problem("200 OK", [(name, value)]) == _unusual_problem(name, value)
        assert header_problem(None, [("X-Other", "1"), (name, value)]) == _unusual_problem(name, value)
