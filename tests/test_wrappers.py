"""microweb's Request gives what Werkzeug's gives: lazy fields, query strings, urlencoded forms, limits."""

from __future__ import annotations

import enum
import io
import json
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wsgi import LimitedStream

from microweb import Request, Response

URLENCODED = "application/x-www-form-urlencoded"
URL_TEXT = st.text(alphabet=st.sampled_from("ab=&+%2F41;/ é\u00ff~._-\\xEc"), max_size=30)


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
@given(cookie=st.text(alphabet=st.sampled_from('ab=; \t",\\é\u00ff%\x00\n\r\x0b\x0c'), max_size=30))
def test_cookies_are_werkzeugs(cookie: str) -> None:
    raw = cookie.encode().decode("latin-1")
    mine, theirs = Request(_environ(HTTP_COOKIE=raw)), WerkzeugRequest(_environ(HTTP_COOKIE=raw))
    assert list(mine.cookies.items(multi=True)) == list(theirs.cookies.items(multi=True))


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "=", " ", "; ", ";", "\t", "\x0b", "é", "%"]), max_size=6).map("".join),
        max_size=6,
    ).map("; ".join)
)
def test_cookies_joined_by_semicolon_space_split_as_the_regex_and_werkzeug_split_them(header: str) -> None:
    from microweb.wrappers import _lists_of, _plain_cookie_lists, _split_cookies

    lists = _plain_cookie_lists(header)
    if lists is not None:
        assert list(lists.items()) == list(_lists_of(_split_cookies(header)).items())
        theirs = WerkzeugRequest(_environ(HTTP_COOKIE=header.encode().decode("latin-1"))).cookies
        assert list(Request(_environ(HTTP_COOKIE=header.encode().decode("latin-1"))).cookies.lists()) == list(
            theirs.lists()
        )


def test_cookies_are_a_werkzeug_multidict_or_the_class_asked_for() -> None:
    class Cookies(ImmutableMultiDict[str, str]):
        pass

    class CustomRequest(Request):
        dict_storage_class = Cookies

    header = "a=1; b=x=y; a=2;;  c = 3 ;d"
    theirs = WerkzeugRequest(_environ(HTTP_COOKIE=header)).cookies
    for cls, expected in ((Request, ImmutableMultiDict), (CustomRequest, Cookies)):
        cookies = cls(_environ(HTTP_COOKIE=header)).cookies
        assert type(cookies) is expected
        expected_lists = [("a", ["1", "2"]), ("b", ["x=y"]), ("c", ["3"]), ("d", [""])]
        assert list(cookies.lists()) == list(theirs.lists()) == expected_lists


@pytest.mark.parametrize("cookie", ["a b=c; d=e", "a=b c; d=e", " a = b ;d=e", "a=\x0bb\x0c; d=e", "a\tb=1"])
def test_cookies_with_blanks_inside_are_the_installed_werkzeugs(cookie: str) -> None:
    # Werkzeug 3.1.9 skips such a part and 3.1.0 keeps it (stripped): microweb follows the one installed.
    mine, theirs = Request(_environ(HTTP_COOKIE=cookie)), WerkzeugRequest(_environ(HTTP_COOKIE=cookie))
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


# ---------------------------------------------------------------- forms: Werkzeug's path, always limited


def _form_app(**config: Any) -> Any:
    from microweb import App
    from microweb import request as current

    app = App()
    app.config.update(config)

    @app.post("/")
    def view() -> dict[str, Any]:
        return {"form": current.form.to_dict()}

    return app


def test_a_stream_installed_by_a_hook_is_the_one_the_form_is_read_from() -> None:
    import gzip

    from microweb import App
    from microweb import request as current

    app = App()

    @app.before_request
    def gunzip() -> None:
        if current.headers.get("Content-Encoding") == "gzip":
            current.stream = gzip.GzipFile(fileobj=current.stream)  # type: ignore[misc]

    app.add_route("/", lambda: {"form": current.form.to_dict()}, methods=["POST"], endpoint="v")
    body = gzip.compress(b"name=ann&age=33")
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"}
    response = app.test_client().post("/", data=body, headers=headers)
    assert response.status_code == 200 and response.json == {"form": {"name": "ann", "age": "33"}}


def test_the_form_after_the_raw_body_is_empty_as_werkzeugs() -> None:
    from microweb import App
    from microweb import request as current

    app = App()

    @app.post("/hook")
    def webhook() -> dict[str, Any]:
        raw = current.stream.read()  # a signature check over the raw body, then the form
        return {"raw": raw.decode(), "form": current.form.to_dict()}

    response = app.test_client().post("/hook", data={"a": "1"})
    assert response.status_code == 200  # was a 400 ClientDisconnected
    assert response.json == {"raw": "a=1", "form": {}}


def test_a_form_parser_class_of_a_request_subclass_is_used() -> None:
    from werkzeug.formparser import FormDataParser

    from microweb import App
    from microweb import request as current

    class Upper(FormDataParser):
        def parse(self, stream: Any, mimetype: str, content_length: int | None, options: Any = None) -> Any:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
            return stream, self.cls((k, v.upper()) for k, v in form.items(multi=True)), files

    class MyRequest(Request):
        form_data_parser_class = Upper

    class MyApp(App):
        request_class = MyRequest

    app = MyApp()
    app.add_route("/", lambda: current.form.to_dict(), methods=["POST"], endpoint="v")
    assert app.test_client().post("/", data={"a": "shout"}).json == {"a": "SHOUT"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",  # jQuery's default
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/x-www-form-urlencoded;charset=UTF-8",
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
def test_a_urlencoded_body_over_the_form_memory_limit_is_a_413(content_type: str, chunked: bool) -> None:
    app = _form_app(MAX_FORM_MEMORY_SIZE=1000)
    body = b"a=" + b"x" * 2000
    environ = EnvironBuilder(path="/", method="POST", data=body, content_type=content_type).get_environ()
    if chunked:  # a server that decoded the chunks ends the stream itself
        environ.pop("CONTENT_LENGTH")
        environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert [status.split()[0] for status in statuses] == ["413"]
    small = EnvironBuilder(path="/", method="POST", data=b"a=1", content_type=content_type).get_environ()
    assert b'{"a":"1"}' in b"".join(app(small, lambda status, headers, exc_info=None: None))


# ---------------------------------------------------------------- the response: Werkzeug's, cheaper


def _sent(response: Any, method: str = "GET") -> tuple[str, list[tuple[str, str]], bytes]:
    seen: list[Any] = []
    environ = EnvironBuilder(path="/", method=method).get_environ()
    body = response(environ, lambda status, headers, exc_info=None: seen.extend([status, headers]))
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen[0], sorted(seen[1]), data


_BODIES = st.one_of(st.text(max_size=20), st.binary(max_size=20))
_STATUSES = st.sampled_from(
    [None, 200, 201, 204, 301, 302, 304, 400, 404, 418, 500, 599, HTTPStatus.CREATED, HTTPStatus.NOT_FOUND]
)
_CONTENT_TYPES = st.sampled_from(
    [None, None, "text/plain; charset=utf-8", "application/xml", "text/csv; charset=latin-1", "a/b\x01"]
)
_MIMETYPES = st.sampled_from([None, "text/plain", "text/html", "application/json", "image/png", "text/csv"])


@settings(max_examples=400, deadline=None)
@given(
    body=_BODIES,
    status=_STATUSES,
    mimetype=_MIMETYPES,
    content_type=_CONTENT_TYPES,
    touch=st.sampled_from(["nothing", "header", "cookie", "location", "iri location", "data", "status", "close"]),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_the_response_sends_what_werkzeugs_sends(
    body: str | bytes, status: int | None, mimetype: str | None, content_type: str | None, touch: str, method: str
) -> None:
    from werkzeug.wrappers import Response as WerkzeugResponse

    from microweb import Response

    def made(cls: type[WerkzeugResponse]) -> WerkzeugResponse:
        response = cls(body, status, mimetype=mimetype, content_type=content_type)
        if touch == "header":
            response.headers["X-Hook"] = "yes"
        elif touch == "cookie":
            response.set_cookie("n", "v", httponly=True)
        elif touch == "location":
            response.headers["Location"] = "/next?page=2"
        elif touch == "iri location":
            response.headers["Location"] = "/caf\u00e9 au lait"
        elif touch == "data":
            response.data = "replaced"
        elif touch == "status":
            response.status_code = 201
        elif touch == "close":
            response.call_on_close(lambda: None)
        return response

    mine, theirs = made(Response), made(WerkzeugResponse)
    assert (mine.status, mine.status_code, mine.mimetype, mine.get_data()) == (
        theirs.status,
        theirs.status_code,
        theirs.mimetype,
        theirs.get_data(),
    )
    assert _sent(made(Response), method) == _sent(made(WerkzeugResponse), method)


_QUERY_PIECES = st.sampled_from(
    ["a", "b", "=", "&", "+", "%", "%2", "%2B", "%2b", "%26", "%3D", "%C3%A9", "%c3", "%A9", "%E2%82", "%FF"]
    + ["%00", "%5C", "%zz", "é", " ", ";", "~", "\\", "\\x4", "\\u", "x41", "N{"]
)
_QUERIES = st.lists(_QUERY_PIECES, max_size=25).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_QUERIES)
def test_the_query_splitter_agrees_with_parse_qsl(text: str) -> None:
    from urllib.parse import parse_qsl

    from microweb.wrappers import _parse_qsl

    assert _parse_qsl(text) == parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


@settings(max_examples=3000, deadline=None)
@given(_QUERIES)
def test_the_parameters_are_the_multidict_of_parse_qsl(text: str) -> None:
    from microweb.wrappers import _parameters

    _assert_the_multidict_of_parse_qsl(_parameters, text)


def _assert_the_multidict_of_parse_qsl(parse: Any, text: str) -> None:
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import ImmutableMultiDict, MultiDict

    pairs = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    for cls in (ImmutableMultiDict, MultiDict):
        mine, theirs = parse(cls, text), cls(pairs)
        assert type(mine) is cls
        assert list(mine.lists()) == list(theirs.lists())
        assert list(mine.items(multi=True)) == list(theirs.items(multi=True))


#: Names and values of mostly well-formed queries: escapes good and bad, ``+``, ``;``, backslashes, non-ASCII.
_FIELD_PIECES = st.sampled_from(
    ["a", "b", "p1", "+", "%", "%2", "%2B", "%3D", "%3d", "%C3%A9", "%c3", "%A9", "%E2%82", "%FF", "%00", "%5C"]
    + ["%zz", "%26", "é", " ", ";", "~", "\\", "\\x4", "\\u", "x41", "N{", "%0A", "="]
)
_FIELDS = st.lists(_FIELD_PIECES, max_size=4).map("".join)
#: Many ``name=value`` pairs, names often repeated, now and then a part with no ``=`` or an empty one.
_LONG_QUERIES = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["p", "q", "%70", "p+"]), _FIELDS).map("=".join),
        st.tuples(_FIELDS, _FIELDS).map("=".join),
        _FIELDS,
    ),
    max_size=40,
).map("&".join)


@settings(max_examples=3000, deadline=None)
@given(_LONG_QUERIES)
def test_long_queries_split_at_once_are_the_multidict_of_parse_qsl(text: str) -> None:
    from microweb.wrappers import _lists

    _assert_the_multidict_of_parse_qsl(_lists, text)


@pytest.mark.parametrize(
    "text",
    [
        "a=1&b=2",  # the split itself
        "a=1&b=x%3Dy%2B1&c=caf%C3%A9+au+lait",  # escapes, a decoded = kept in its value, +
        "a%3Db=1&c=2",  # a decoded = in a name
        "a=1&b=2=3&c",  # as many = as parts, but one part has two and one none: the loop
        "a=1&&b=2",  # an empty part: the loop
        "a=1&b=%26&c=3",  # an escaped &: the loop
        "a=1&b=2&a=3",  # a name repeated: the loop
        "a=%zz&b=%C3&c=%A9&d=%E2%82",  # bad escapes, cut UTF-8: kept as unquote keeps them
        "a=\\x41&b=%5C&c=\\",  # backslashes stay backslashes
        "a=é&b=%C3%A9",  # not ASCII: the loop
        "=&=1&x=",  # blank names and values
        "a=1;b=2&c=3",  # ; is no separator
    ],
)
def test_each_kind_of_query_reads_as_werkzeugs_on_either_path(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from microweb import wrappers

    raw = text.encode().decode("latin-1")
    theirs = WerkzeugRequest(_environ(QUERY_STRING=raw)).args
    for length, pairs in ((0, 0), (10**9, 10**9)):  # always split at once, never
        monkeypatch.setattr(wrappers, "BULK_LENGTH", length)
        monkeypatch.setattr(wrappers, "BULK_PAIRS", pairs)
        mine = Request(_environ(QUERY_STRING=raw)).args
        assert type(mine) is ImmutableMultiDict
        assert list(mine.lists()) == list(theirs.lists())
        forms = [
            cls(EnvironBuilder(method="POST", data=text, content_type=URLENCODED).get_environ()).form
            for cls in (Request, WerkzeugRequest)
        ]
        assert list(forms[0].lists()) == list(forms[1].lists())


def test_a_long_query_is_a_real_immutable_multidict() -> None:
    import copy
    import pickle

    query = "&".join(f"p{i}=v{i}" for i in range(40))
    mine, theirs = Request(_environ(QUERY_STRING=query)).args, WerkzeugRequest(_environ(QUERY_STRING=query)).args
    assert type(mine) is ImmutableMultiDict
    assert (repr(mine), mine.to_dict(), mine.getlist("p7")) == (repr(theirs), theirs.to_dict(), ["v7"])
    assert pickle.loads(pickle.dumps(mine)) == mine and copy.copy(mine) == mine and mine.copy() == theirs.copy()
    assert hash(mine) == hash(theirs)


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(["a", "B", "/", "+", " ", "\t", ";", "=", '"', "x", "\u00e9", "\n"]), max_size=20)
)
def test_the_mimetype_and_its_parameters_are_werkzeugs(content_type: str) -> None:
    mine, theirs = Request(_environ(CONTENT_TYPE=content_type)), WerkzeugRequest(_environ(CONTENT_TYPE=content_type))
    assert (mine.mimetype, mine.mimetype_params) == (theirs.mimetype, theirs.mimetype_params)
    assert mine.is_json == theirs.is_json


def test_forty_parameters_a_few_of_them_escaped_read_as_werkzeug_reads_them() -> None:
    query = "&".join(f"p{i}=v%20{i}%2F%C3%A9%26" if i % 8 == 3 else f"p{i}=value{i}" for i in range(40))
    mine, theirs = Request(_environ(QUERY_STRING=query)), WerkzeugRequest(_environ(QUERY_STRING=query))
    assert mine.args == theirs.args
    assert (mine.args["p3"], mine.args["p39"]) == ("v 3/é&", "value39")
    with pytest.raises(TypeError):  # still immutable
        mine.args["p0"] = "x"  # type: ignore[index]


def test_a_storage_subclass_gets_the_pairs_in_their_order() -> None:
    from werkzeug.datastructures import MultiDict

    class Recorded(MultiDict[str, str]):
        def __init__(self, pairs: Any = None) -> None:
            self.given = list(pairs or [])
            super().__init__(self.given)

    class Mine(Request):
        parameter_storage_class = Recorded

    args = Mine(_environ(QUERY_STRING="a=1&b=%32&a=3")).args
    assert isinstance(args, Recorded)
    assert args.given == [("a", "1"), ("b", "2"), ("a", "3")]
    assert args.getlist("a") == ["1", "3"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "text/plain"],
)
@pytest.mark.parametrize("body", [b"a=1&b=%C3%A9&a=2", b"", b"\xff=\xfe", b"x"])
def test_after_the_form_the_body_reads_as_werkzeugs(content_type: str, body: bytes) -> None:
    def seen(cls: type[WerkzeugRequest]) -> tuple[Any, ...]:
        environ = EnvironBuilder(path="/", method="POST", data=body, content_type=content_type).get_environ()
        req = cls(environ)
        form = req.form.to_dict(flat=False)
        return form, req.files.to_dict(), req.stream.read(), req.get_data(), req.form is req.form

    assert seen(Request) == seen(WerkzeugRequest)


@pytest.mark.parametrize("content_type", [URLENCODED, "application/json", "text/plain; charset=latin-1"])
@pytest.mark.parametrize("body", [b"a=1&b=%C3%A9", b"", b"\xff\xfe"])
@pytest.mark.parametrize("first", ["get_data", "as_text", "uncached", "data", "json"])
def test_the_body_read_first_reads_as_werkzeugs_then_the_form_and_the_stream(
    content_type: str, body: bytes, first: str
) -> None:
    def seen(cls: type[WerkzeugRequest]) -> tuple[Any, ...]:
        req = cls(EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ())
        if first == "json":
            read: Any = req.get_json(silent=True)
        elif first == "data":
            read = req.data
        else:
            read = req.get_data(as_text=first == "as_text", cache=first != "uncached")
        form = req.form.to_dict(flat=False)
        stream = req.stream
        return (
            read,
            req.get_data(),
            form,
            stream.read(),
            stream.read(3),
            stream.tell(),
            isinstance(stream, LimitedStream),
        )

    assert seen(Request) == seen(WerkzeugRequest)


class _Trickle(io.RawIOBase):
    """A body that comes in pieces of at most ``piece`` bytes, then fails or ends, as a socket may."""

    def __init__(self, data: bytes, piece: int, error: Exception | None = None) -> None:
        self.data, self.piece, self.error = data, piece, error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.data and self.error is not None:
            raise self.error
        size = min(len(buffer), self.piece, len(self.data))
        buffer[:size], self.data = self.data[:size], self.data[size:]
        return size


def _body_read(cls: type[WerkzeugRequest], body: Any, length: int, **environ: Any) -> tuple[Any, ...]:
    req = cls(_environ(REQUEST_METHOD="POST", CONTENT_LENGTH=str(length), CONTENT_TYPE="application/json", **environ))
    req.environ["wsgi.input"] = body()
    try:
        data = req.get_data()
    except HTTPException as exc:
        return (type(exc), exc.code)
    stream = req.stream
    return data, req.get_data(), stream.read(), stream.read(5), stream.tell(), isinstance(stream, LimitedStream)


@pytest.mark.parametrize(
    ("body", "length"),
    [
        (lambda: io.BytesIO(b'{"a": [1, 2]}'), 13),  # whole
        (lambda: io.BytesIO(b'{"a": [1, 2]} and more'), 13),  # more than Content-Length: not read
        (lambda: _Trickle(b"x" * 70_000, 1000), 70_000),  # in pieces: all of it
        (lambda: _Trickle(b"x" * 10, 3), 20),  # ends early: a 400 (ClientDisconnected)
        (lambda: _Trickle(b"x" * 10, 3, OSError("reset")), 20),  # fails: a 400 too
        (lambda: io.BytesIO(b""), 0),
    ],
)
def test_a_body_reads_as_werkzeugs_whole_in_pieces_short_or_failing(body: Any, length: int) -> None:
    # (where the server ends the stream, a body cut short is a 400 here: tests/test_requests.py)
    assert _body_read(Request, body, length) == _body_read(WerkzeugRequest, body, length)


def test_a_body_is_read_in_one_read_of_the_input() -> None:
    reads: list[int] = []

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    req = Request(_environ(REQUEST_METHOD="POST", CONTENT_LENGTH="13", CONTENT_TYPE="application/json"))
    req.environ["wsgi.input"] = Counted(b'{"a": [1, 2]} trailing')
    assert req.json == {"a": [1, 2]}
    assert reads == [13]


@pytest.mark.parametrize("encoding", ["chunked", "gzip, chunked", "gzip"])
def test_a_transfer_encoding_counts_as_werkzeug_counts_it(encoding: str) -> None:
    environ = _environ(CONTENT_LENGTH="5", HTTP_TRANSFER_ENCODING=encoding)
    assert Request(environ).content_length == WerkzeugRequest(environ).content_length


# ---------------------------------------------------------------- responses: Werkzeug's attributes still count


class _NoLength(Response):
    automatically_set_content_length = False


def _sent_headers(response: Response) -> list[tuple[str, str]]:
    sent: list[list[tuple[str, str]]] = []
    b"".join(response(_environ(), lambda status, headers, exc_info=None: sent.append(headers)))
    return sent[0]


@pytest.mark.parametrize("body", ["Hello World!", b"Hello World!"])
def test_a_response_class_without_automatic_content_length_sends_none(body: str | bytes) -> None:
    # Werkzeug's own test_disabled_auto_content_length, which the plain state failed.
    for response in (_NoLength(body), _NoLength.of(b"Hello World!", "text/html; charset=utf-8")):
        assert response.content_length is None
        assert "content-length" not in {name.lower() for name, _ in _sent_headers(response)}
    assert ("Content-Length", "12") in _sent_headers(Response(body))


def test_an_app_with_such_a_response_class_sends_no_content_length() -> None:
    from microweb import App

    app = App()
    app.response_class = _NoLength
    app.add_route("/", lambda: "hi", endpoint="index")
    response = app.test_client().get("/")
    assert response.data == b"hi" and "Content-Length" not in response.headers


# ---------------------------------------------------------------- JSON bodies: msgspec first, json's answers

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**80)
    | st.integers(min_value=-(2**80), max_value=-(2**63) + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(blacklist_categories=()), max_size=8),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def _json_outcome(loads: Any, data: bytes) -> tuple[Any, ...]:
    try:
        value = loads(data)
    except ValueError as exc:
        return ("error", str(exc))
    return ("value", repr(value), json.dumps(value, sort_keys=False))  # repr tells int from float, NaN from null


def _json_bodies() -> Any:
    def mutate(args: tuple[Any, bool, str, int, str]) -> bytes:
        value, ascii_only, encoding, at, insert = args
        data = json.dumps(value, ensure_ascii=ascii_only).encode(encoding, "surrogatepass")
        if insert:  # a cut, a stray byte or a number past the float range: bad or unusual JSON
            data = data[:at] + insert.encode() + data[at:]
        return data

    return st.tuples(
        _JSON_VALUES,
        st.booleans(),
        st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"]),
        st.integers(0, 40),
        st.sampled_from(["", "", "", ",", "]", "\\", '"', "1e400", "NaN", "\x00", "00", "\ufeff", " "]),
    ).map(mutate)


@settings(max_examples=3000, deadline=None)
@given(_json_bodies())
def test_a_json_body_reads_as_json_reads_it_with_msgspec_first(data: bytes) -> None:
    from microweb import wrappers

    assert wrappers._fast_decode is not None, "the test extra installs msgspec: pip install -e '.[dev]'"
    assert _json_outcome(wrappers._JSONModule.loads, data) == _json_outcome(json.loads, data)


@pytest.mark.parametrize(
    "text",
    ["1.7976931348623157e308", "2.2250738585072011e-308", "4.9406564584124654e-324", "0.1", "123456789012345678.5"]
    + ["9007199254740993", "9007199254740993.0", "1." + "0" * 400 + "1", "0." + "9" * 30, "1e-400", "-0.0", "-0"],
)
def test_numbers_at_the_edges_read_as_json_reads_them(text: str) -> None:
    from microweb.wrappers import _JSONModule

    assert repr(_JSONModule.loads(text.encode())) == repr(json.loads(text))


@pytest.mark.parametrize("depth", [10, 500, 2000, 100_000])
def test_deep_json_is_read_or_a_400_with_or_without_msgspec(depth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from microweb import wrappers

    data = b"[" * depth + b"]" * depth
    with_msgspec = _json_outcome(wrappers._JSONModule.loads, data)
    monkeypatch.setattr(wrappers, "_fast_decode", None)
    assert _json_outcome(wrappers._JSONModule.loads, data) == with_msgspec
    # As deep as the stdlib's json reads (Python 3.13 reads deeper than 3.12), else the 400 that says why.
    try:
        json.loads(data)
    except RecursionError:
        assert with_msgspec == ("error", "JSON nested too deeply")
    else:
        assert with_msgspec[0] == "value"


@pytest.mark.parametrize("fast", [True, False])
def test_request_json_and_its_400_are_the_same_with_or_without_msgspec(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from microweb import App, request, wrappers

    if not fast:
        monkeypatch.setattr(wrappers, "_fast_decode", None)
    app = App(__name__)
    app.add_route("/j", lambda: {"got": request.json}, methods=["POST"])
    client = app.test_client()
    good = client.post("/j", data=b'{"n": 18446744073709551616, "x": NaN}', content_type="application/json")
    assert good.status_code == 200 and good.data == b'{"got":{"n":18446744073709551616,"x":NaN}}'
    bad = client.post("/j", data=b'{"n": 1,', content_type="application/json")
    assert bad.status_code == 400
    assert b"Failed to decode JSON object: Expecting property name enclosed in double quotes" in bad.data


# ---------------------------------------------------------------- JSON answers: orjson when it writes json's bytes


class _Colour(enum.Enum):
    RED = 1


class _Size(enum.IntEnum):
    BIG = 3


class _Label(str):
    pass


_ANSWER_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**80)
    | st.floats()
    | st.floats(min_value=1e-12, max_value=1e-3)
    | st.text(max_size=8)
    | st.sampled_from(["0.00001", "re-use", "e-", _Colour.RED, _Size.BIG, _Label("x"), (1, 2), uuid.UUID(int=7)])
)
_ANSWERS = st.recursive(
    _ANSWER_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumped(value: Any) -> tuple[str, Any]:
    from microweb.app import dump_json

    try:
        return "json", dump_json(value)
    except (TypeError, ValueError) as exc:
        return "error", (type(exc), str(exc))


@settings(max_examples=3000, deadline=None)
@given(_ANSWERS)
def test_a_json_answer_is_byte_for_byte_jsons_with_orjson(value: Any) -> None:
    from microweb import wrappers

    fast = wrappers._fast_encode
    assert fast is not None, "the test extra installs orjson: pip install -e '.[dev]'"
    with_orjson = _dumped(value)
    wrappers._fast_encode = None
    try:
        assert with_orjson == _dumped(value)
    finally:
        wrappers._fast_encode = fast


@pytest.mark.parametrize(
    "value",
    [
        {"items": [{"id": i, "name": f"item-{i:05d}", "ok": True} for i in range(50)]},  # orjson writes it
        [1e-5, 1.23e-7, 5e-324, 1e16, 1e22, -0.0, 0.0001, 1e15, 1.7976931348623157e308],
        [float("nan"), float("inf"), -float("inf")],
        {1: "a", 2.5: "b", False: "c", None: "d"},
        [2**64, -(2**63) - 1, 2**64 - 1],
        "\ud800 lone",
        "</script>&<'\u2028\u2029\x7f\x00\x1f",
    ],
)
def test_json_answers_at_the_edges_are_jsons(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from microweb import wrappers

    with_orjson = _dumped(value)
    monkeypatch.setattr(wrappers, "_fast_encode", None)
    assert with_orjson == _dumped(value)


def test_orjson_writes_the_usual_answer_and_refuses_the_rest() -> None:
    from microweb.wrappers import fast_json

    assert (
        fast_json({"id": 1, "name": "ann", "ok": True, "ratio": 0.5}) == b'{"id":1,"name":"ann","ok":true,"ratio":0.5}'
    )
    for value in ([float("nan")], [1e-7], {1: 2}, [2**64], [uuid.UUID(int=7)], [_Colour.RED], (1, 2), ["e-mail"]):
        assert fast_json(value) is None, value


_HEADER_NAMES = st.sampled_from(
    ["X-Hook", "x-hook", "Location", "location", "Content-Location", "Content-Length", "content-type", "Set-Cookie"]
    + ["X-Frame-Options", "Connection", "X Bad", "\u00c4-Name", "", "X_Under", "-"]  # ones appended as checked, or not
)
_HEADER_VALUES = st.sampled_from(
    ["yes", "", "/next?page=2", "/caf\u00e9", "https://example.com/a b", "a\r\nb", "\n", "a\rb", "7", 3, None]
    + ["DENY", "caf\u00e9", "a\tb", "a\x00b", "\x7f"]
)
_HEADER_OPS = st.lists(
    st.tuples(st.sampled_from(["set", "item", "add", "add_kw", "del", "setdefault"]), _HEADER_NAMES, _HEADER_VALUES),
    max_size=8,
)


def _apply(headers: Any, op: str, name: str, value: Any) -> str | None:
    """One operation on ``headers``; the error it raised (type and message), if any."""
    try:
        if op == "set":
            headers.set(name, value)
        elif op == "item":
            headers[name] = value
        elif op == "add":
            headers.add(name, value)
        elif op == "add_kw":
            headers.add(name, value, charset="utf-8")
        elif op == "del":
            del headers[name]
        else:
            headers.setdefault(name, value)
    except Exception as exc:  # the same error either way is the claim
        return f"{type(exc).__name__}: {exc}"
    return None


@settings(max_examples=1500, deadline=None)
@given(ops=_HEADER_OPS, plain=st.booleans())
def test_response_headers_behave_as_werkzeugs_headers(ops: list[tuple[str, str, Any]], plain: bool) -> None:
    from werkzeug.datastructures import Headers

    start = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")]
    html = "text/html; charset=utf-8"
    mine = (Response.of(b"hello", html) if plain else Response(b"hello", content_type=html, headers=[])).headers
    theirs = Headers(start)
    assert list(mine) == start and mine == theirs and theirs == mine
    for op, name, value in ops:
        assert _apply(mine, op, name, value) == _apply(theirs, op, name, value)
        assert list(mine) == list(theirs)
        assert (mine == theirs, theirs == mine, mine.copy() == theirs) == (True, True, True)
    assert (mine == Headers([("X", "y")])) is (list(theirs) == [("X", "y")])


def _sent_or_error(response: Any, method: str) -> Any:
    """What :func:`_sent_in_order` gives, or the type of the exception sending raised."""
    try:
        return _sent_in_order(response, method)
    except Exception as exc:
        return type(exc)


def _sent_in_order(response: Any, method: str = "GET") -> tuple[str, list[tuple[str, str]], bytes]:
    seen: list[Any] = []
    environ = EnvironBuilder(path="/a/", method=method, base_url="http://example.com/app").get_environ()
    body = response(environ, lambda status, headers, exc_info=None: seen.extend([status, headers]))
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen[0], list(seen[1]), data


@settings(max_examples=1500, deadline=None)
@given(
    body=_BODIES,
    status=_STATUSES,
    ops=_HEADER_OPS,
    how=st.sampled_from(["of", "plain", "init", "init with headers"]),  # Werkzeug's for "of", "plain": "init"
    autocorrect=st.booleans(),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_the_response_sends_werkzeugs_bytes_in_werkzeugs_order(
    body: str | bytes, status: int | None, ops: list[tuple[str, str, Any]], how: str, autocorrect: bool, method: str
) -> None:
    """Any sequence of header changes: the same status, headers (in order), body and header check as Werkzeug's."""
    from werkzeug.http import HTTP_STATUS_CODES
    from werkzeug.wrappers import Response as WerkzeugResponse

    from microweb.http import header_problem

    data = body.encode() if isinstance(body, str) else body
    extra = [("X-Extra", "1")]
    if how in ("of", "plain") and status not in HTTP_STATUS_CODES:
        status = 200  # Response.of takes the codes of Werkzeug's table only

    def made(cls: type[WerkzeugResponse]) -> WerkzeugResponse:
        if how == "of" and cls is Response:
            response: WerkzeugResponse = Response.of(data, "text/html; charset=utf-8", status or 200, extra)
        elif how == "plain" and cls is Response:  # the two headers made when first read, then checked ones added
            response = Response.of(data, "text/html; charset=utf-8", status or 200)
            response.headers.extend(extra)
        elif how == "init with headers":
            response = cls(data, status or 200, headers=extra, content_type="text/html; charset=utf-8")
        else:
            response = cls(data, status or 200, content_type="text/html; charset=utf-8")
            response.headers.extend(extra)
        response.autocorrect_location_header = autocorrect
        for op, name, value in ops:
            _apply(response.headers, op, name, value)
        return response

    mine, theirs = made(Response), made(WerkzeugResponse)
    assert isinstance(mine, Response)
    assert mine.header_problem() == header_problem(theirs.status, list(theirs.headers))
    assert _sent_or_error(mine, method) == _sent_or_error(theirs, method)  # e.g. a Location iri_to_uri cannot read


class _Chunks:
    """An iterable body that records whether it was closed."""

    def __init__(self, chunks: list[str | bytes]) -> None:
        self.chunks = chunks
        self.closed = 0

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1


def _iterable(kind: str, chunks: list[str | bytes]) -> Any:
    if kind == "generator":
        return (chunk for chunk in chunks)
    if kind == "closable":
        return _Chunks(chunks)
    if kind == "iterator":
        return iter(chunks)
    return list(chunks) if kind == "list" else tuple(chunks)


@settings(max_examples=1500, deadline=None)
@given(
    chunks=st.lists(st.one_of(st.text(max_size=5), st.binary(max_size=5)), max_size=4),
    kind=st.sampled_from(["generator", "closable", "list", "tuple", "iterator"]),
    status=_STATUSES,
    mimetype=_MIMETYPES,
    content_type=_CONTENT_TYPES,
    ops=_HEADER_OPS,
    extra=st.sampled_from(["nothing", "close", "passthrough", "autocorrect"]),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_an_iterable_body_is_built_and_sent_as_werkzeugs(
    chunks: list[str | bytes],
    kind: str,
    status: int | None,
    mimetype: str | None,
    content_type: str | None,
    ops: list[tuple[str, str, Any]],
    extra: str,
    method: str,
) -> None:
    """Streams: the same attributes, status, headers in order, chunks and closing as Werkzeug's Response."""
    from werkzeug.wrappers import Response as WerkzeugResponse

    def made(cls: type[WerkzeugResponse]) -> tuple[WerkzeugResponse, Any, list[str]]:
        closed: list[str] = []
        body = _iterable(kind, chunks)
        try:
            response = cls(
                body, status, mimetype=mimetype, content_type=content_type, direct_passthrough=extra == "passthrough"
            )
        except Exception as exc:
            return type(exc), None, closed  # type: ignore[return-value]
        response.autocorrect_location_header = extra == "autocorrect"
        if extra == "close":
            response.call_on_close(lambda: closed.append("closed"))
        for op, name, value in ops:
            _apply(response.headers, op, name, value)
        return response, body, closed

    mine, my_body, my_closed = made(Response)
    theirs, their_body, their_closed = made(WerkzeugResponse)
    if not isinstance(theirs, WerkzeugResponse):
        assert mine is theirs  # the same error
        return
    assert isinstance(mine, WerkzeugResponse)
    fields = ("status", "status_code", "mimetype", "is_streamed", "is_sequence", "direct_passthrough")
    assert [getattr(mine, name) for name in fields] == [getattr(theirs, name) for name in fields]
    assert list(mine.headers) == list(theirs.headers)
    assert _sent_or_error(mine, method) == _sent_or_error(theirs, method)
    assert my_closed == their_closed
    if kind == "closable":
        assert my_body.closed == their_body.closed


@pytest.mark.parametrize("kind", ["str", "bytes", "list", "iterator"])
def test_a_response_class_without_a_default_mimetype_sends_no_content_type_as_werkzeugs(kind: str) -> None:
    from werkzeug.wrappers import Response as WerkzeugResponse

    class Untyped(Response):
        default_mimetype = None

    class WerkzeugUntyped(WerkzeugResponse):
        default_mimetype = None

    def body() -> Any:
        return {"str": "x", "bytes": b"x", "list": ["x"], "iterator": iter([b"x"])}[kind]

    mine, theirs = Untyped(body()), WerkzeugUntyped(body())
    assert list(mine.headers) == list(theirs.headers)
    assert _sent_in_order(mine) == _sent_in_order(theirs)


class _TextResponse(Response):
    default_mimetype = "text/plain"


class _NoTypeResponse(Response):
    default_mimetype = None


@settings(max_examples=1000, deadline=None)
@given(
    body=st.one_of(st.text(max_size=10), st.binary(max_size=10)),
    status=st.sampled_from([None, 200, 201, 404, 299, 999, HTTPStatus.CREATED, "202 ACCEPTED", "299 ODD"]),
    mimetype=st.sampled_from([None, "text/plain", "text/html", "application/json", "image/png", "text/x-odd"]),
    content_type=st.sampled_from([None, "text/html; charset=utf-8", "text/plain; charset=utf-8", "application/xml"]),
    direct_passthrough=st.booleans(),
    cls=st.sampled_from([Response, _TextResponse, _NoTypeResponse]),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_a_response_made_from_a_body_is_werkzeugs(
    body: str | bytes,
    status: Any,
    mimetype: str | None,
    content_type: str | None,
    direct_passthrough: bool,
    cls: type[Response],
    method: str,
) -> None:
    """Response(body, status, mimetype=, content_type=): Werkzeug's status, headers, body and sent bytes."""
    from werkzeug.wrappers import Response as WerkzeugResponse

    theirs_cls = type("Theirs", (WerkzeugResponse,), {"default_mimetype": cls.default_mimetype})
    args = (body, status)
    kwargs = {"mimetype": mimetype, "content_type": content_type, "direct_passthrough": direct_passthrough}
    for _ in range(2):  # the second time, the mimetype's content type is known already
        mine, theirs = cls(*args, **kwargs), theirs_cls(*args, **kwargs)
        assert (mine.status, mine.get_data()) == (theirs.status, theirs.get_data())
        assert _sent_in_order(mine, method) == _sent_in_order(theirs, method)
        mine = cls(*args, **kwargs)
        assert list(mine.headers) == list(theirs.headers)
