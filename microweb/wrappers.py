"""The request and response classes: Werkzeug's, made cheaper where every request pays.

:class:`Request`: Werkzeug's ``Request.__init__`` computes the method, path, host
and headers of every request up front; here each is computed on first use (most
views read one or two). Query strings with nothing to unquote are split directly.
Urlencoded forms go through Werkzeug's own ``_load_form_data`` and the stream it
chooses, with a :class:`FormParser` that splits them as the query string is
split, and holds every urlencoded body (any charset, chunked too) to
``max_form_memory_size``. When the server ends the body stream
(``wsgi.input_terminated``, as gunicorn does), a body shorter than its
Content-Length is a 400 and one of unknown length (chunked) over
``max_content_length`` a 413, however it is read: Werkzeug took the first as
complete and cut the second at the limit.

:class:`Response`: Werkzeug's, with its API, but a body in memory with only its
content type is kept as plain values until something reads ``headers``, and is
sent as one list of two headers.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from io import BytesIO
from types import GeneratorType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.datastructures import EnvironHeaders, FileStorage, Headers, ImmutableMultiDict, MultiDict
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import HTTP_STATUS_CODES, dump_cookie, parse_options_header
from werkzeug.sansio.http import parse_cookie
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.utils import get_content_type
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wrappers import Response as _WerkzeugResponse
from werkzeug.wsgi import LimitedStream, get_content_length

from ._werkzeug import (
    CACHED_DATA,
    BodyStream,
    BoundaryDecoder,
    EncodedStream,
    ResponseHeaders,
    check_state,
    header_pairs,
    headers_of,
    init_response,
    multidict_of,
    parser_as_checked,
    plain_headers,
    plain_send_state,
    read_body,
    read_stream,
    send_state,
    status_of,
)
from .http import header_problem, is_token, is_uri, parse_content_length, refused

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from werkzeug.utils import cached_property  # typed to override the base class's attributes
else:

    class cached_property:
        """Computed on first read, then kept in the instance dict, where later reads find it directly.

        Werkzeug's cached_property runs a Python descriptor on every read; functools' takes a
        lock on every first read up to Python 3.11. A request is read a few times, then dropped.
        """

        def __init__(self, func):
            self.func = func
            self.name = func.__name__
            self.__doc__ = func.__doc__

        def __get__(self, obj, owner=None):
            if obj is None:
                return self
            value = obj.__dict__[self.name] = self.func(obj)
            return value


URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
HTML = "text/html; charset=utf-8"
JSON = "application/json"


def _fast_decoder() -> Callable[[str | bytes], Any] | None:
    """msgspec's JSON decoder, when the ``json`` extra is installed (``pip install microweb[json]``)."""
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec.json.Decoder().decode


_fast_decode = _fast_decoder()  # None: the stdlib only
#: What msgspec refuses, to be read again by ``json``: NaN and Infinity, numbers past the float
#: range (1e400), lone surrogates, a byte order mark or UTF-16/32, nesting past its depth, bad JSON.
_REFUSED: tuple[type[Exception], ...] = (ValueError, RecursionError)


def _fast_encoder() -> Callable[[Any], bytes | None] | None:
    """orjson's encoder, refusing what ``json`` would write otherwise, when the ``json`` extra is installed."""
    try:
        import orjson
    except ImportError:
        return None
    dumps, loads = orjson.dumps, orjson.loads
    # Subclasses of str, int, dict and list, dates and dataclasses go to ``refuse``: json writes them its own way.
    option = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def refuse(value: Any) -> Any:
        raise TypeError

    def encode(value: Any) -> bytes | None:
        try:
            data = dumps(value, default=refuse, option=option)
        except TypeError:  # integers past 64 bits, keys that are not str, lone surrogates, depth, cycles...
            return None
        # orjson writes floats under 1e-4 as 0.00001 and 1e-7 where repr writes 1e-05 and 1e-07 (a string
        # holding either is read again too); NaN and Infinity become null, and orjson writes enums, UUIDs
        # and tuples that json writes otherwise or refuses: what it then reads back differs from the value.
        if b"e-" in data or b"0.0000" in data or loads(data) != value:
            return None
        return data

    return encode


_fast_encode = _fast_encoder()  # None: the stdlib only


def fast_json(value: Any) -> bytes | None:
    """``value`` as compact UTF-8 JSON, byte for byte what :func:`microweb.app.dump_json` writes, or None.

    PERF: with orjson installed (the ``json`` extra), about 1.6x faster on a 64 KiB answer,
    the check that the bytes are json's included (tests/test_wrappers.py compares the two on
    generated values). None when orjson is missing, or the value is one it writes otherwise.
    """
    return None if _fast_encode is None else _fast_encode(value)


class _JSONModule:
    """``json`` for request bodies, with nesting too deep for the parser as a 400.

    PERF: with msgspec installed, a body is decoded by msgspec first (about 3x faster on
    small bodies): for the JSON it reads it gives what ``json.loads`` gives (the same
    types and values, big integers too), and whatever it refuses is read by
    ``json.loads``, so the result, or the error and its message, is ``json``'s.
    tests/test_wrappers.py checks the two on generated bodies.
    """

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(data: str | bytes) -> Any:
        """``json.loads(data)``; too deep a nesting is a ValueError (a 400), not a RecursionError."""
        decode = _fast_decode
        if decode is not None:
            try:
                return decode(data)
            except _REFUSED:
                pass
        try:
            return json.loads(data)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class _WholeBodyStream(LimitedStream):
    """A body of unknown length read up to ``max_content_length``, and a 413 if it goes on past it.

    Werkzeug's ``LimitedStream.readall`` stops at the limit without reading on, so a longer
    body came back cut short, as if it were complete. Reading in pieces already ends in a 413.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self.body = stream

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self.body.read(1):  # one byte more than the limit allows
            raise RequestEntityTooLarge()
        return data


_escape_decode = codecs.escape_decode


def _from_wsgi(value: str) -> str:
    # WSGI hands over URL bytes as latin-1; URLs are UTF-8.
    return value if value.isascii() else value.encode("latin-1").decode(errors="replace")


def _unquote(part: str) -> str:
    """``unquote(part, errors="werkzeug.url_quote")``: how ``parse_qsl`` decodes a name or value.

    PERF: an ASCII part is decoded in C. Each ``%XX`` becomes ``\\xXX``, which the
    ``escape_decode`` codec turns into that byte (the part's own backslashes doubled
    first), and those bytes are decoded as ``unquote`` decodes them. A ``%`` with no two
    hex digits after it is an error there, and ``unquote`` keeps it. The codec's function
    is called directly: looking a codec up by name costs as much.
    """
    if part.isascii():
        escaped = part.replace("\\", "\\\\") if "\\" in part else part
        try:
            data = _escape_decode(escaped.replace("%", "\\x"))[0]
        except ValueError:  # a % without two hex digits after it
            pass
        else:
            return data.decode("utf-8", "werkzeug.url_quote")
    return unquote(part, errors="werkzeug.url_quote")


def _parse_qsl(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")``, as Werkzeug calls it.

    PERF: ``+`` is a space in names and values alike, so it is replaced in the whole string at
    once, and only the parts with a ``%`` are unquoted; the rest are already what ``parse_qsl``
    gives. tests/test_wrappers.py checks the two agree on generated strings.
    """
    if "+" in text:
        text = text.replace("+", " ")
    decode = "%" in text
    pairs = []
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if decode and "%" in pair:
                name = _unquote(name) if "%" in name else name
                value = _unquote(value) if "%" in value else value
            pairs.append((name, value))
    return pairs


def _parameter_lists(text: str) -> dict[str, list[str]]:
    """Each name's values, in order, of :func:`_parse_qsl`'s pairs (its loop, without the pairs)."""
    if "+" in text:
        text = text.replace("+", " ")
    decode = "%" in text
    lists: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if decode and "%" in pair:
                name = _unquote(name) if "%" in name else name
                value = _unquote(value) if "%" in value else value
            if name in lists:
                lists[name].append(value)
            else:
                lists[name] = [value]
    return lists


#: From how long, and how many ``&``, a query is split by :func:`_lists` (below, the loop costs less).
BULK_LENGTH, BULK_PAIRS = 64, 12
#: Every byte but ``&`` and ``=``: what ``bytes.translate`` deletes to leave a query's separators.
_NOT_SEPARATORS = bytes(byte for byte in range(256) if byte not in b"&=")


def _lists(cls: type[MultiDict[str, str]], text: str) -> MultiDict[str, str]:
    """``multidict_of(cls, _parameter_lists(text))``, split in C when ``text`` is plain ``name=value&...``.

    That is: ASCII, every part between ``&`` holding exactly one ``=``, no ``%26`` (an
    escaped ``&``) and no name repeated; anything else goes through the loop.

    PERF: with one ``=`` in each part, the tokens between any ``&`` or ``=`` are name, value,
    name, value..., so two splits in C do the loop's work. An escape never spans a separator
    (neither is a hex digit) and, with no ``%26``, never decodes to an ``&``: the whole string
    unquoted at once, with ``=`` made ``&``, splits on ``&`` into the tokens unquoted one by
    one (``%3D`` decodes to a ``=`` in its token, as ``parse_qsl`` decodes after splitting).
    """
    plain = text.replace("+", " ") if "+" in text else text
    if plain.isascii() and "%26" not in plain:
        separators = plain.encode().translate(None, _NOT_SEPARATORS)
        if separators == b"=&" * (len(separators) // 2) + b"=":
            if "%" in plain:
                tokens = _unquote(plain.replace("=", "&")).split("&")
            else:
                tokens = plain.replace("&", "=").split("=")
            lists = [[value] for value in tokens[1::2]]
            multidict = multidict_of(cls, zip(tokens[::2], lists, strict=True))
            if len(multidict) == len(lists):
                return multidict
            # a name repeated: the loop gathers its values
    return multidict_of(cls, _parameter_lists(text))


def _is_long(text: str) -> bool:
    """Whether :func:`_lists` splits ``text`` for less than the loop would (a long query)."""
    return len(text) >= BULK_LENGTH and text.count("&") >= BULK_PAIRS


def _lists_of(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in lists:
            lists[name].append(value)
        else:
            lists[name] = [value]
    return lists


def _parameters(cls: type[MultiDict[str, str]], text: str) -> MultiDict[str, str]:
    """``cls(_parse_qsl(text))``: the parameters of a query string or urlencoded body."""
    werkzeugs_own = cls is ImmutableMultiDict or cls is MultiDict
    if werkzeugs_own:
        return _lists(cls, text) if _is_long(text) else multidict_of(cls, _parameter_lists(text))
    return cls(_parse_qsl(text))  # a subclass may keep the pairs' order: it gets them as Werkzeug passes them


def _split_cookies(header: str) -> list[tuple[str, str]]:
    """``parse_cookie``'s pairs for a header without quoted values, by splitting.

    Each part between ``;`` is a name, up to its first ``=``, and the rest, both stripped of
    spaces and tabs; a part with blanks inside its name or value is skipped, as Werkzeug skips
    it (tests/test_wrappers.py checks the two agree on generated headers). PERF: one regex, in C.
    """
    return _COOKIE_PARTS(header)


def _plain_cookie_lists(header: str) -> dict[str, list[str]] | None:
    """:func:`_split_cookies`' pairs, gathered by name, for a header of parts joined by ``"; "``; else None.

    With no other ``;``, space or tab in the header, each part is a name (the regex's, when
    not empty) up to its first ``=`` and a value after it. PERF: a split and a partition per
    cookie cost about half the regex (tests/test_wrappers.py checks the two agree).
    """
    parts = header.split("; ")
    separators = len(parts) - 1
    if header.count(";") != separators or header.count(" ") != separators or "\t" in header:
        return None
    lists: dict[str, list[str]] = {}
    for part in parts:
        name, _, value = part.partition("=")
        if name:
            if name in lists:
                lists[name].append(value)
            else:
                lists[name] = [value]
    return lists


#: What ``parse_options_header`` strips from a value: spaces and tabs in Werkzeug 3.1.9, all
#: whitespace before (``str.strip()``, so a newline too).
_OPTIONS_BLANKS: str | None = " \t" if parse_options_header("a\n")[0] == "a\n" else None
_COOKIE_PARTS = re.compile(r"(?:^|;)[ \t]*([^;= \t]+)[ \t]*(?:=[ \t]*([^; \t]*)[ \t]*)?(?=;|\Z)").findall
#: Whether Werkzeug's ``parse_cookie`` skips a part with blanks inside, as the split above does: from
#: Werkzeug 3.1.9 on. Before it kept such parts (stripped by ``str.strip``), so it reads every header there.
_SPLIT_LIKE_WERKZEUG = not parse_cookie("a b=c")


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """All of ``stream``, read in pieces (a body of unknown length too); a 413 once it passes ``limit``."""
    chunks = []
    size = 0
    while chunk := stream.read(min(65536, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()
    return b"".join(chunks)


class MultipartParser(MultiPartParser):
    """Werkzeug's multipart parser: the same fields, files and errors.

    It runs on microweb's ``BoundaryDecoder``, which gives Werkzeug's decoder's events with less work.
    """

    decoder_class: type[MultipartDecoder] = BoundaryDecoder

    def parse(
        self, stream: IO[bytes], boundary: bytes, content_length: int | None
    ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """The fields and files of the body in ``stream`` (``MultiPartParser.parse``)."""
        if not parser_as_checked():  # a Werkzeug whose parse this was not written against: its own
            return super().parse(stream, boundary, content_length)
        decoder = self.decoder_class(boundary, self.max_form_memory_size, max_parts=self.max_form_parts)
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        part: Field | File | None = None
        limit = self.max_form_memory_size
        size = 0  # of the current field
        chunks: list[bytes] = []
        container: IO[bytes] | None = None
        read, buffer_size = stream.read, self.buffer_size
        data: bytes | None = b""
        while data is not None:
            data = read(buffer_size) or None
            decoder.receive_data(data)
            event = decoder.next_event()
            while not isinstance(event, (NeedData, Epilogue)):
                if isinstance(event, Data):
                    if container is None:
                        size += len(event.data)
                        if limit is not None and size > limit:
                            raise RequestEntityTooLarge()
                        chunks.append(event.data)
                    else:
                        container.write(event.data)
                    if not event.more_data:
                        self._finish(part, chunks, container, fields, files)
                elif isinstance(event, Field):
                    part, container, size, chunks = event, None, 0, []
                elif isinstance(event, File):
                    part, container = event, self.start_file_streaming(event, content_length)
                event = decoder.next_event()  # a Preamble is read past, as Werkzeug's parser does
        return self.cls(fields), self.cls(files)

    def _finish(
        self,
        part: Field | File | None,
        chunks: list[bytes],
        container: IO[bytes] | None,
        fields: list[tuple[str, str]],
        files: list[tuple[str, FileStorage]],
    ) -> None:
        if isinstance(part, File):
            assert container is not None
            container.seek(0)
            files.append((part.name, FileStorage(container, part.filename, part.name, headers=part.headers)))
        elif part is not None:
            fields.append((part.name, b"".join(chunks).decode(self.get_part_charset(part.headers), "replace")))


class FormParser(FormDataParser):
    """Werkzeug's form parser, with urlencoded bodies split as the query string is, and always limited.

    Werkzeug 3.1.0 to 3.1.8 hold a urlencoded body to ``max_form_memory_size`` only
    when its Content-Length says it is larger (a chunked body is read whole), and
    3.1.9 not at all. Here any urlencoded body (any charset, any case, chunked or
    not) over the limit is a 413: the same on every Werkzeug 3.1.
    """

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]:
        """Parse ``stream`` as a form of type ``mimetype`` (see ``FormDataParser.parse``)."""
        if mimetype == MULTIPART:
            return self.parse_multipart(stream, content_length, options or {})
        if mimetype != URLENCODED:
            return super().parse(stream, mimetype, content_length, options)
        limit = self.max_form_memory_size
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        data = stream.read() if limit is None else _read_at_most(stream, limit)
        try:
            text = data.decode()
        except ValueError:  # not UTF-8: an empty form, as Werkzeug's parser gives
            if not self.silent:
                raise
            text = ""
        return stream, _parameters(self.cls, text), self.cls()

    def parse_multipart(
        self, stream: IO[bytes], content_length: int | None, options: dict[str, str]
    ) -> tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]:
        """A ``multipart/form-data`` body, read by a :class:`MultipartParser`, as Werkzeug's parser reads it.

        A malformed body is an empty form (its ``ValueError`` when not ``silent``).
        """
        parser = MultipartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
        )
        try:
            boundary = options.get("boundary", "").encode("ascii")
            if not boundary:
                raise ValueError("Missing boundary")
            form, files = parser.parse(stream, boundary, content_length)
        except ValueError:
            if not self.silent:
                raise
            return stream, self.cls(), self.cls()
        return stream, form, files


class Request(_WerkzeugRequest):
    """Werkzeug's request, plus the matched endpoint and the URL's arguments."""

    json_module = _JSONModule  # type: ignore[assignment]
    form_data_parser_class = FormParser

    def __init__(self, environ: WSGIEnvironment, populate_request: bool = True, shallow: bool = False) -> None:
        # Not Werkzeug's __init__: what it computes up front, the properties below compute on first use.
        self.environ = environ
        self.shallow = shallow
        #: The endpoint of the rule that matched, or None (404, 405, ...).
        self.endpoint: str | None = None
        #: The values the URL rule captured, as passed to the view (None when no rule matched).
        self.view_args: dict[str, Any] | None = None
        #: The dotted name of the blueprint whose view matched, or None.
        self.blueprint: str | None = None
        self._uploads: list[IO[bytes]] = []  # every file stream the form parser opened
        if populate_request and not shallow:
            environ["werkzeug.request"] = self

    @cached_property
    def method(self) -> str:
        """The request method, upper case."""
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @cached_property
    def scheme(self) -> str:
        """``http`` or ``https`` (``wsgi.url_scheme``)."""
        return str(self.environ.get("wsgi.url_scheme", "http"))

    @cached_property
    def server(self) -> tuple[str, int | None] | None:
        """The server's address (``SERVER_NAME``, ``SERVER_PORT``)."""
        name = self.environ.get("SERVER_NAME")
        if name is None:
            return None
        port = self.environ.get("SERVER_PORT")
        return name, int(port) if port and port.isdigit() else None

    @cached_property
    def root_path(self) -> str:
        """Where the app is mounted (``SCRIPT_NAME``), without a trailing slash."""
        return _from_wsgi(self.environ.get("SCRIPT_NAME") or "").rstrip("/")

    @cached_property
    def path(self) -> str:
        """The path below the mount point (``PATH_INFO``), starting with a slash."""
        return "/" + _from_wsgi(self.environ.get("PATH_INFO") or "").lstrip("/")

    @cached_property
    def query_string(self) -> bytes:
        """The raw query string."""
        return str(self.environ.get("QUERY_STRING", "")).encode("latin-1")

    @cached_property
    def headers(self) -> Headers:
        """The request headers."""
        return EnvironHeaders(self.environ)

    @cached_property
    def remote_addr(self) -> str | None:
        """The client's address (``REMOTE_ADDR``)."""
        return self.environ.get("REMOTE_ADDR")

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """The query string's parameters, as Werkzeug parses them."""
        # Raw bytes that are not UTF-8 become U+FFFD here, where Werkzeug's strict decoding fails.
        text = self.environ.get("QUERY_STRING", "")
        if not text.isascii():
            text = _from_wsgi(text)
        cls = self.parameter_storage_class
        werkzeugs_own = cls is ImmutableMultiDict
        if werkzeugs_own:  # PERF: _parameters' own path, without its frame (every query pays it)
            if len(text) >= BULK_LENGTH and text.count("&") >= BULK_PAIRS:
                return _lists(cls, text)
            return multidict_of(cls, _parameter_lists(text))
        return _parameters(cls, text)

    @cached_property
    def _content_type_parts(self) -> tuple[str, dict[str, str]]:
        return parse_options_header(self.environ.get("CONTENT_TYPE", ""))

    @cached_property
    def mimetype(self) -> str:
        """The body's mimetype, lower case, without parameters (``application/x-www-form-urlencoded``)."""
        value = self.environ.get("CONTENT_TYPE") or ""
        if ";" not in value:  # PERF: no parameters: what parse_options_header gives for it, without its frames
            return value.strip(_OPTIONS_BLANKS).lower()
        return self._content_type_parts[0].lower()

    @cached_property
    def mimetype_params(self) -> dict[str, str]:
        """The Content-Type's parameters (``{"charset": "utf-8"}``)."""
        return self._content_type_parts[1]

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, read as Werkzeug's ``parse_cookie`` reads them."""
        # Straight from HTTP_COOKIE: Werkzeug asks its header view, which walks the whole environ.
        header = self.environ.get("HTTP_COOKIE", "")
        if '"' in header or not _SPLIT_LIKE_WERKZEUG:  # quoted values carry escapes to undo
            return parse_cookie(header, cls=self.dict_storage_class)  # type: ignore[return-value]
        # PERF: no typing.cast (a Python call) and no _split_cookies frame on this path.
        cls: type[ImmutableMultiDict[str, str]] = self.dict_storage_class  # type: ignore[assignment]
        werkzeugs_own = cls is ImmutableMultiDict or cls is MultiDict
        if werkzeugs_own:  # PERF: filled at once, not pair by pair
            lists = _plain_cookie_lists(header)
            if lists is None:
                lists = _lists_of(_COOKIE_PARTS(header))
            return multidict_of(cls, lists)  # type: ignore[return-value]
        return cls(_COOKIE_PARTS(header))

    @cached_property
    def content_length(self) -> int | None:
        """The body's length (None when not given, or chunked): Werkzeug's, but a bad header is refused.

        A Content-Length that is no plain number is a 400 (RFC 9112 6.3), one over
        ``sys.maxsize`` a 413; Werkzeug took both as 0, an empty body.
        """
        environ = self.environ
        value: str | None = environ.get("CONTENT_LENGTH")
        if value is None or ("HTTP_TRANSFER_ENCODING" in environ and get_content_length(environ) is None):
            return None  # not given, or chunked (as Werkzeug reads Transfer-Encoding)
        return parse_content_length(value) if value else 0

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, as Werkzeug's ``stream``, but never cut short silently (see the module)."""
        environ = self.environ
        if self.shallow:
            return super().stream  # Werkzeug's RuntimeError
        if "_whole_body" in self.__dict__:  # get_data read it: the stream it read, at its end
            return read_stream(self.__dict__["_whole_body"])  # type: ignore[return-value]
        length, limit = self.content_length, self.max_content_length
        if length is not None and limit is not None and length > limit:
            raise RequestEntityTooLarge()
        if length is not None:
            # What Werkzeug's get_input_stream gives, or, when the server ends the stream itself (gunicorn
            # does) and Werkzeug trusts that end: a client gone before Content-Length bytes is a 400 too.
            return BodyStream(environ["wsgi.input"], length)  # type: ignore[return-value]  # no cast: a call
        if "wsgi.input_terminated" not in environ:
            return BytesIO()  # Werkzeug's: no length, no body
        if limit is not None:
            return _WholeBodyStream(environ["wsgi.input"], limit)  # type: ignore[return-value]
        return super().stream

    def get_data(  # type: ignore[override]
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """The body, as Werkzeug's ``get_data`` reads it (see there).

        PERF: the usual call, with a Content-Length and nothing read yet, reads what
        ``stream.read()`` reads without making the stream first (it is made if asked for).
        """
        d = self.__dict__
        if not cache or parse_form_data or CACHED_DATA in d or "stream" in d or "_whole_body" in d or self.shallow:
            return super().get_data(cache, as_text, parse_form_data)  # type: ignore[call-overload, no-any-return]
        length = self.content_length
        if length is None:
            return super().get_data(cache, as_text, parse_form_data)  # type: ignore[call-overload, no-any-return]
        limit = self.max_content_length
        if limit is not None and length > limit:
            raise RequestEntityTooLarge()
        data, stream = read_body(self.environ["wsgi.input"], length)
        if stream is None:
            d["_whole_body"] = length
        else:
            d["stream"] = stream
        d[CACHED_DATA] = data
        return data.decode(errors="replace") if as_text else data

    @cached_property
    def form(self) -> ImmutableMultiDict[str, str]:
        """The form fields of a urlencoded or multipart body (Werkzeug's ``form``).

        PERF: a urlencoded body of a known length, whose stream nothing has touched or
        replaced, read with the default parser, is read and split here directly: what
        Werkzeug's ``_load_form_data`` and :class:`~microweb.wrappers.FormParser` give for it, with the same
        limits and the same 400 for a body cut short, less the machinery around them.
        """
        environ = self.environ
        d = self.__dict__
        if (
            self.form_data_parser_class is not FormParser
            or self.shallow
            or "stream" in d
            or CACHED_DATA in d
            or "wsgi.input_terminated" in environ
            or self.mimetype != URLENCODED
            or self.content_length is None  # chunked
        ):
            return super().form
        length = self.content_length
        for limit in (self.max_content_length, self.max_form_memory_size):
            if limit is not None and length > limit:
                raise RequestEntityTooLarge()
        data = environ["wsgi.input"].read(length) if length else b""
        if len(data) < length:
            raise ClientDisconnected()
        try:
            text = data.decode()
        except ValueError:  # not UTF-8: an empty form, as the parser gives
            text = ""
        storage = self.parameter_storage_class
        d["_whole_body"], d["files"] = length, storage()  # what the parser leaves: the stream read, no files
        return _parameters(storage, text)  # type: ignore[return-value]  # no cast: a call

    def make_form_data_parser(self) -> FormDataParser:
        """Werkzeug's parser, with every file stream it opens kept, so :meth:`close` closes it in any case."""
        parser = super().make_form_data_parser()
        open_stream = parser.stream_factory
        uploads = self._uploads

        def tracked(*args: Any, **kwargs: Any) -> IO[bytes]:
            # A form that fails half way (a 413 for too many parts) loses the files already opened.
            stream = open_stream(*args, **kwargs)
            uploads.append(stream)
            return stream

        parser.stream_factory = tracked
        return parser

    def close(self) -> None:
        """Close the uploaded files, those of a form whose parsing failed half way too."""
        if "files" in self.__dict__:  # skips Werkzeug's walk over no files, on every request
            super().close()
        for stream in self._uploads:
            stream.close()


@lru_cache(maxsize=64)
def content_type_for(mimetype: str) -> str:
    """The Content-Type of ``mimetype`` as Werkzeug gives it (``; charset=utf-8`` for text); checked once.

    Bounded: a mimetype may come from a request.
    """
    content_type = get_content_type(mimetype, "utf-8")
    if header_problem("200 OK", [("Content-Type", content_type)]) is not None:
        raise ValueError("The mimetype has CR, LF, NUL or another control character")
    if len(_CONTENT_TYPES) < 64 and type(mimetype) is str:
        _CONTENT_TYPES[mimetype] = content_type
    return content_type


#: Mimetypes -> their Content-Type, as :func:`content_type_for` gave them (PERF: a dict read, not a call).
#: Bounded: a mimetype may come from a request.
_CONTENT_TYPES: dict[str, str] = {}


@lru_cache(maxsize=64)
def _is_clean_content_type(value: str) -> bool:
    """Whether ``value`` can be sent as a Content-Type as it is (no CR, LF or other control); checked once.

    Bounded: a content type may come from a request.
    """
    return header_problem("200 OK", [("Content-Type", value)]) is None


#: The status lines of the codes a response is made with, as Werkzeug writes them.
_STATUS_LINES = {code: f"{code} {name.upper()}" for code, name in HTTP_STATUS_CODES.items()}
_CHECKED_STATUS_LINES = frozenset(_STATUS_LINES.values())
_PLAIN_TYPES = frozenset({HTML, JSON, "text/plain; charset=utf-8"})
#: The headers Werkzeug's ``get_wsgi_headers`` may rewrite or add.
_SEND_REWRITTEN = frozenset({"content-length", "location", "content-location"})
_URL_NAMES = frozenset({"Location", "Content-Location"})  # as Werkzeug spells them when it sets them again


_UNESCAPED_CONTROL = re.compile(r"[\x1a-\x1f]")


def _octal_escape(found: re.Match[str]) -> str:
    return f"\\{ord(found.group()):03o}"  # as dump_cookie writes the others; parse_cookie reads them back


#: The status codes whose responses Werkzeug's ``__call__`` sends, by its own rules (no body, fewer headers).
_WERKZEUGS_CODES = frozenset([*range(100, 200), 204, 304])
#: The methods Werkzeug's ``__call__`` sends a response through.
_SEND_METHODS = ("get_wsgi_response", "get_wsgi_headers", "get_app_iter")


class Response(_WerkzeugResponse):
    """Werkzeug's response, with its whole API, and cheap to build and send when the body is in memory.

    A response made from one ``str`` or ``bytes`` body, with at most a status code
    and a mimetype, keeps its two headers (Content-Type and Content-Length) as
    plain values until something reads :attr:`headers` (or :meth:`call_on_close`
    is called), and is then sent as one list: what Werkzeug would send, without its
    general machinery. Any other response is sent by Werkzeug's ``get_wsgi_response``,
    except that a body in memory with no header Werkzeug rewrites (Location and
    Content-Location that are not plain URIs) skips the copy and the
    ``ClosingIterator``. HEAD, 1xx, 204 and 304 keep Werkzeug's rules.
    """

    # Instance attributes (annotations only: nothing of a response lives on the class).
    _plain: tuple[str, str, list[bytes]] | None  # content type, length and body, until the headers are read
    _headers: Headers | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class with a get_wsgi_response, get_wsgi_headers or get_app_iter of its own is sent by
        # Werkzeug's __call__, through them: the shortcuts of this class's __call__ skip them.
        own = any(getattr(cls, name) is not getattr(_WerkzeugResponse, name) for name in _SEND_METHODS)
        if own and "__call__" not in cls.__dict__:
            cls.__call__ = _WerkzeugResponse.__call__  # type: ignore[method-assign]

    def __init__(
        self,
        response: Iterable[bytes] | bytes | Iterable[str] | str | None = None,
        status: int | str | HTTPStatus | None = None,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
        direct_passthrough: bool = False,
    ) -> None:
        kind = type(response)
        if (kind is str or kind is bytes) and headers is None and not direct_passthrough:
            # PERF: the usual calls (a body, maybe a status code and a mimetype) first, with fewer tests;
            # the same response as the plain one below makes, for the same arguments.
            if content_type is None:
                known = _CONTENT_TYPES.get(self.default_mimetype if mimetype is None else mimetype)  # type: ignore[arg-type]
            else:
                known = content_type if content_type in _PLAIN_TYPES else None
            if known is not None and (status is None or type(status) is int) and self.automatically_set_content_length:
                code = self.default_status if status is None else status
                line = _STATUS_LINES.get(code)
                if line is not None:
                    body: bytes = response.encode() if kind is str else response  # type: ignore[union-attr,assignment]
                    listed = [body]
                    init_response(self, listed, line, code)
                    self._headers = None
                    self._plain = (known, str(len(body)), listed)
                    return
        self._init_others(response, status, headers, mimetype, content_type, direct_passthrough)

    def _init_others(
        self,
        response: Iterable[bytes] | bytes | Iterable[str] | str | None,
        status: int | str | HTTPStatus | None,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] | None,
        mimetype: str | None,
        content_type: str | None,
        direct_passthrough: bool,
    ) -> None:
        """``__init__`` for the calls its first test does not take."""
        code = self.default_status if status is None else status
        simple = (
            headers is None
            and (type(code) is int or type(code) is HTTPStatus)
            and code in _STATUS_LINES
            and (content_type is None or content_type in _PLAIN_TYPES or _is_clean_content_type(content_type))
            # with no type at all (a class's default_mimetype None), Werkzeug sends no Content-Type
            and (content_type is not None or mimetype is not None or self.default_mimetype is not None)
        )
        if simple and isinstance(response, (str, bytes)):
            if not direct_passthrough and self.automatically_set_content_length:  # plain: sent with its length
                # PERF: the common case, without Werkzeug's Headers, status parsing and set_data.
                body = response.encode() if isinstance(response, str) else response
                if content_type is None:
                    content_type = content_type_for(self.default_mimetype if mimetype is None else mimetype)
                listed = [body]
                init_response(self, listed, _STATUS_LINES[code], int(code))  # type: ignore[index]
                self._headers = None
                self._plain = (content_type, str(len(body)), listed)
                return
        elif simple and response is not None and not isinstance(response, bytearray):
            # PERF: an iterable body (a stream), set as Werkzeug sets it, with its one header.
            if content_type is None:
                content_type = content_type_for(self.default_mimetype if mimetype is None else mimetype)
            init_response(self, response, _STATUS_LINES[int(code)], int(code))  # type: ignore[arg-type]
            self.direct_passthrough = direct_passthrough
            self._plain = None
            self._headers = headers_of([("Content-Type", content_type)])
            return
        self._plain = self._headers = None
        if not isinstance(headers, Headers):  # a Headers given is kept as it is, as Werkzeug keeps it
            headers = ResponseHeaders(headers)  # the same checks as Headers(headers), cheaper to set later
        super().__init__(response, status, headers, mimetype, content_type, direct_passthrough)

    @classmethod
    def of(
        cls, body: bytes, content_type: str, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """A response with ``body``, of a ``content_type`` known to be safe (``HTML``, ``JSON``, ...).

        ``status`` is a code of Werkzeug's table; ``headers`` are more ``(name, value)`` pairs,
        checked here as :func:`~microweb.http.header_problem` checks them (a ValueError, which
        becomes the logged 500, for a pair that must not be sent). PERF: what ``make_response``
        and the built-in error pages build, skipping ``__init__``'s checks.
        """
        if headers:
            problem = header_problem(None, headers)
            if problem is not None:
                raise refused(problem)
            return checked_response(cls, body, content_type, status, headers)
        if not cls.automatically_set_content_length:  # a subclass that sends no Content-Length of its own
            return cls(body, status, content_type=content_type)
        response = cls.__new__(cls)
        listed = [body]
        init_response(response, listed, _STATUS_LINES[status], status)
        response._headers = None
        response._plain = (content_type, str(len(body)), listed)
        return response

    @property
    def headers(self) -> Headers:
        """The response headers (Werkzeug's ``Headers``)."""
        headers = self._headers
        if headers is None:
            plain = self._plain
            assert plain is not None
            self._plain = None
            headers = self._headers = plain_headers(plain[0], plain[1])
        return headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._plain = None
        self._headers = value

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: timedelta | int | None = None,
        expires: str | datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Werkzeug's ``set_cookie``, refusing a ``key`` that is not an HTTP token.

        Werkzeug quotes the value but writes the key as it is, so a key from a request
        holding ``;`` would add attributes of its own (``Domain=``, ``Max-Age=``).
        """
        if not is_token(key):
            raise ValueError(
                f"The cookie name {key[:100]!r} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~): "
                "choose a fixed name, and put what the request sent in the value."
            )
        header = dump_cookie(
            key,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            max_size=self.max_cookie_size,
            samesite=samesite,
            partitioned=partitioned,
        )
        # dump_cookie escapes the controls up to 0x19 only: 0x1a-0x1f would make the header refused (a 500).
        self.headers.add("Set-Cookie", _UNESCAPED_CONTROL.sub(_octal_escape, header))

    def call_on_close(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``func`` when the response is closed (see Werkzeug's ``Response.call_on_close``)."""
        self.headers  # noqa: B018  (out of the plain state: the body is then sent through Werkzeug's iterator)
        return super().call_on_close(func)

    def header_problem(self) -> str | None:
        """Why this response's status and headers must not be sent (see :func:`microweb.http.header_problem`)."""
        if self._plain is not None:  # the only headers are the two made from checked values (no store yet)
            status = status_of(self)
            return None if status in _CHECKED_STATUS_LINES else header_problem(status, ())
        store = self._headers
        status, pairs = check_state(self, self.headers if store is None else store)
        if status not in _CHECKED_STATUS_LINES:
            problem = header_problem(status, ())
            if problem is not None:
                return problem
        return header_problem(None, pairs) if pairs else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Send this response: call ``start_response`` and return the body."""
        plain = self._plain
        if plain is not None:  # its headers never read, so nothing given to call_on_close either
            status, code, body = plain_send_state(self)
            if body is plain[2] and code not in _WERKZEUGS_CODES:
                start_response(status, [("Content-Type", plain[0]), ("Content-Length", plain[1])])
                return () if environ["REQUEST_METHOD"] == "HEAD" else body
        status, code, closing, pairs = send_state(self, self._headers)
        if code in _WERKZEUGS_CODES or closing:
            return super().__call__(environ, start_response)
        body = self.response
        if type(body) is list and len(body) == 1 and type(body[0]) is bytes:
            if pairs is None:
                pairs = self._wsgi_headers(body[0])
            if pairs is not None:
                start_response(status, pairs)
                return () if environ["REQUEST_METHOD"] == "HEAD" else body
        elif (
            not isinstance(body, (list, tuple))
            and not self.direct_passthrough
            and environ["REQUEST_METHOD"] != "HEAD"
            and type(self).get_app_iter is _WerkzeugResponse.get_app_iter
            and type(self).iter_encoded is _WerkzeugResponse.iter_encoded  # a class's own encoding runs as it is
        ):
            pairs = self._wsgi_headers(None)  # Werkzeug counts no length for a body that is not a sequence
            if pairs is not None:
                start_response(status, pairs)
                return EncodedStream(self)
        return super().__call__(environ, start_response)

    def _wsgi_headers(self, body: bytes | None) -> list[tuple[str, str]] | None:
        """The headers to send with ``body``, when Werkzeug would send them unchanged; else None.

        One pass over a copy of the pairs: Werkzeug's ``get_wsgi_headers`` copies them into a
        new ``Headers`` and sets Location, Content-Location and Content-Length again.
        """
        store = self._headers
        headers = header_pairs(self.headers if store is None else store)
        has_length = False
        urls: set[str] | None = None
        for name, value in headers:
            lower = name.lower()
            if lower in _SEND_REWRITTEN:
                if lower == "content-length":
                    has_length = True
                    continue
                if urls is None:
                    urls = set()
                elif lower in urls:
                    return None  # Werkzeug sets it again: one header of the name, the last value
                urls.add(lower)
                if name not in _URL_NAMES or not is_uri(value) or self.autocorrect_location_header:
                    return None  # Werkzeug rewrites it (its own spelling of the name, iri_to_uri, urljoin)
        if body is not None and not has_length and self.automatically_set_content_length:
            headers.append(("Content-Length", str(len(body))))
        return headers


def is_streamed(response: _WerkzeugResponse) -> bool:
    """``response.is_streamed``: whether its body has no length (Werkzeug's test is ``len()``).

    PERF: a generator has none, so for one the ``len()`` that raises and catches a TypeError
    (message, traceback) is skipped, unless the class has an ``is_streamed`` of its own.
    """
    if type(response.response) is GeneratorType and type(response).is_streamed is _WERKZEUG_IS_STREAMED:
        return True
    return response.is_streamed


_WERKZEUG_IS_STREAMED = _WerkzeugResponse.is_streamed


def checked_response(
    cls: type[Response], body: bytes, content_type: str, status: int, headers: list[tuple[str, str]]
) -> Response:
    """:meth:`Response.of` with ``headers`` that microweb checked already (an error page's, a redirect's Location).

    They are kept as checked pairs: neither the check before sending nor the send reads them again.
    """
    if not headers:  # the plain response: its two headers only
        return cls.of(body, content_type, status)
    if not cls.automatically_set_content_length:  # a subclass that sends no Content-Length of its own
        return cls(body, status, headers, content_type=content_type)
    response = cls.__new__(cls)
    init_response(response, [body], _STATUS_LINES[status], status)
    response._plain = None
    pairs = [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
    response._headers = headers_of(pairs, headers)
    return response
