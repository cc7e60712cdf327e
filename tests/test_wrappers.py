"""microweb's Request gives what Werkzeug's gives: lazy fields, query strings, urlencoded forms, limits."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

from microweb import Request

URL_TEXT = st.text(alphabet=st.sampled_from("ab=&+%2F41;/ é\u00ff~._-"), max_size=30)


def _environ(**overrides: Any) -> dict[str, Any]:
    environ = EnvironBuilder(path="/").get_environ()
    environ.update(overrides)
    return environ


@settings(max_examples=300, deadline=None)
@given(query=URL_TEXT)
def test_args_are_werkzeugs(query: str) -> None:
    raw = query.encode().decode("latin-1")  # as a WSGI server hands it over
    mine, theirs = Request(_environ(QUERY_STRING=raw)), WerkzeugRequest(_environ(QUERY_STRING=raw))
    assert list(mine.args.items(multi=True)) == list(theirs.args.items(multi=True))


@settings(max_examples=200, deadline=None)
@given(
    script=URL_TEXT,
    path=URL_TEXT,
    method=st.sampled_from(["get", "POST", "PuT"]),
    port=st.sampled_from(["80", "8080", "", "x"]),
)
def test_lazy_fields_are_werkzeugs(script: str, path: str, method: str, port: str) -> None:
    overrides = {
        "SCRIPT_NAME": script.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "REQUEST_METHOD": method,
        "SERVER_PORT": port,
        "HTTP_X_CUSTOM": "v",
    }
    mine, theirs = Request(_environ(**overrides)), WerkzeugRequest(_environ(**overrides))
    for field in ("method", "scheme", "server", "root_path", "path", "query_string", "remote_addr", "url", "full_path"):
        assert getattr(mine, field) == getattr(theirs, field), field
    assert mine.headers["X-Custom"] == theirs.headers["X-Custom"] == "v"


@settings(max_examples=500, deadline=None)
@given(cookie=st.text(alphabet=st.sampled_from('ab=; \t",\\é\u00ff%\x00'), max_size=30))
def test_cookies_are_werkzeugs(cookie: str) -> None:
    raw = cookie.encode().decode("latin-1")
    mine, theirs = Request(_environ(HTTP_COOKIE=raw)), WerkzeugRequest(_environ(HTTP_COOKIE=raw))
    assert list(mine.cookies.items(multi=True)) == list(theirs.cookies.items(multi=True))


def _post(cls: type[WerkzeugRequest], body: bytes, length: int | None = None, **attributes: Any) -> WerkzeugRequest:
    environ = _environ(
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(body) if length is None else length),
    )
    environ["wsgi.input"] = io.BytesIO(body)
    request = cls(environ)
    for name, value in attributes.items():
        setattr(request, name, value)
    return request


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(URL_TEXT.map(str.encode), st.binary(max_size=20)))
def test_urlencoded_forms_are_werkzeugs(body: bytes) -> None:
    mine, theirs = _post(Request, body), _post(WerkzeugRequest, body)
    assert list(mine.form.items(multi=True)) == list(theirs.form.items(multi=True))
    assert not mine.files and not theirs.files
    assert mine.get_data() == theirs.get_data() == b""


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"max_content_length": 10}, RequestEntityTooLarge),
        ({"max_form_memory_size": 10}, RequestEntityTooLarge),  # all of a urlencoded body is form fields
        ({}, None),
    ],
)
def test_urlencoded_limits(attributes: dict[str, int], expected: type[HTTPException] | None) -> None:
    request = _post(Request, b"name=" + b"x" * 20, **attributes)
    if expected is None:
        assert request.form["name"] == "x" * 20
    else:
        with pytest.raises(expected):
            request.form  # noqa: B018


@pytest.mark.parametrize("cls", [Request, WerkzeugRequest])
def test_short_body_is_a_client_disconnect_like_werkzeug(cls: type[WerkzeugRequest]) -> None:
    with pytest.raises(ClientDisconnected):
        _post(cls, b"a=1", length=10).form  # noqa: B018


def test_data_read_first_still_parses_the_form() -> None:
    request = _post(Request, b"a=1&b=2")
    assert request.get_data() == b"a=1&b=2"
    assert request.form.to_dict() == {"a": "1", "b": "2"}


def test_raw_non_utf8_query_string_is_replaced_not_an_error() -> None:
    request = Request(_environ(QUERY_STRING=b"q=\xff\xfe".decode("latin-1")))
    assert request.args["q"] == "\ufffd\ufffd"
