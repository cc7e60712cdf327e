"""The request class: Werkzeug's, made cheaper where every request pays.

Werkzeug's ``Request.__init__`` computes the method, path, host and headers of
every request up front; here each is computed on first use (most views read
one or two). Query strings with nothing to unquote are split directly.
Urlencoded forms of a known length, the usual form post, skip Werkzeug's
streaming parser machinery: the same ``parse_qsl`` call and the same limits,
less around them. When the server ends the body stream (``wsgi.input_terminated``,
as gunicorn does), a body shorter than its Content-Length is a 400 and one of
unknown length (chunked) over ``max_content_length`` a 413, however it is read:
Werkzeug took the first as complete and cut the second at the limit.
Everything else is Werkzeug's.
"""

from __future__ import annotations

import json
import re
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from werkzeug.datastructures import EnvironHeaders, Headers, ImmutableMultiDict, MultiDict
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.http import parse_cookie
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wsgi import LimitedStream, get_content_length

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
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
_NO_FILES: ImmutableMultiDict[str, Any] = ImmutableMultiDict()  # immutable, so every request may share it


class _JSONModule:
    """``json`` for request bodies, with nesting too deep for the parser as a 400."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(data: str | bytes) -> Any:
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


def _from_wsgi(value: str) -> str:
    # WSGI hands over URL bytes as latin-1; URLs are UTF-8.
    return value if value.isascii() else value.encode("latin-1").decode(errors="replace")


def _parse_qsl(text: str) -> list[tuple[str, str]]:
    """``parse_qsl`` as Werkzeug calls it, for a query string or urlencoded body."""
    if text.isascii() and "%" not in text and "+" not in text:
        # Nothing to unquote: splitting gives what parse_qsl would, in a fraction of the time.
        pairs = []
        for pair in text.split("&"):
            if pair:
                name, _, value = pair.partition("=")
                pairs.append((name, value))
        return pairs
    return parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


def _split_cookies(header: str) -> list[tuple[str, str]]:
    """``parse_cookie``'s pairs for a header without quoted values, by splitting.

    A part with blanks inside its name or value is skipped, as Werkzeug skips it
    (tests/test_wrappers.py checks the two agree on generated headers).
    """
    pairs = []
    for part in header.split(";"):
        name, _, value = part.partition("=")
        name = name.strip(" \t")
        value = value.strip(" \t")
        if name and not _has_blank(name) and not _has_blank(value):
            pairs.append((name, value))
    return pairs


_has_blank = re.compile("[ \t]").search


class Request(_WerkzeugRequest):
    """Werkzeug's request, plus the matched endpoint and the URL's arguments."""

    json_module = _JSONModule  # type: ignore[assignment]
    #: The endpoint of the rule that matched, or None (404, 405, ...).
    endpoint: str | None = None
    #: The values the URL rule captured, as passed to the view.
    view_args: dict[str, Any] | None = None
    _uploads: list[IO[bytes]] | None = None  # every file stream the form parser opened

    def __init__(self, environ: WSGIEnvironment, populate_request: bool = True, shallow: bool = False) -> None:
        self.environ = environ
        self.shallow = shallow
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
        return self.parameter_storage_class(_parse_qsl(_from_wsgi(self.environ.get("QUERY_STRING", ""))))

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, read as Werkzeug's ``parse_cookie`` reads them."""
        # Straight from HTTP_COOKIE: Werkzeug asks its header view, which walks the whole environ.
        header = self.environ.get("HTTP_COOKIE", "")
        if '"' in header:  # quoted values carry escapes to undo
            return parse_cookie(header, cls=self.dict_storage_class)  # type: ignore[return-value]
        return self.dict_storage_class(_split_cookies(header))  # type: ignore[return-value]

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, as Werkzeug's ``stream``, but never cut short silently (see the module)."""
        environ = self.environ
        if self.shallow or "wsgi.input_terminated" not in environ:
            return super().stream
        # The server ends the stream itself (gunicorn does), and Werkzeug trusts that end.
        length, limit = get_content_length(environ), self.max_content_length
        if length is not None and limit is not None and length > limit:
            raise RequestEntityTooLarge()
        if length is not None:
            # But a client gone before sending Content-Length bytes ends it early too: a 400, not a shorter body.
            return cast(IO[bytes], LimitedStream(environ["wsgi.input"], length))
        if limit is not None:
            return cast(IO[bytes], _WholeBodyStream(environ["wsgi.input"], limit))
        return super().stream

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Werkzeug's stream for an uploaded file, kept so that :meth:`close` closes it in any case."""
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        # A form that fails half way (a 413 for too many parts) loses the files already opened: keep them here.
        if self._uploads is None:
            self._uploads = []
        self._uploads.append(stream)
        return stream

    def close(self) -> None:
        """Close the uploaded files, those of a form whose parsing failed half way too."""
        if "files" in self.__dict__:  # skips Werkzeug's walk over no files, on every request
            super().close()
        for stream in self._uploads or ():
            stream.close()

    def _load_form_data(self) -> None:
        environ = self.environ
        length_header: str = environ.get("CONTENT_LENGTH", "")
        if (
            "form" in self.__dict__
            or environ.get("CONTENT_TYPE") != URLENCODED
            or not (length_header.isascii() and length_header.isdigit())
            or environ.get("HTTP_TRANSFER_ENCODING") == "chunked"
            or self.shallow
            or "_cached_data" in self.__dict__
        ):
            super()._load_form_data()
            return
        length = int(length_header)
        # A urlencoded body is all form fields, so the form memory limit covers all of it.
        for limit in (self.max_content_length, self.max_form_memory_size):
            if limit is not None and length > limit:
                raise RequestEntityTooLarge()
        data = environ["wsgi.input"].read(length) if length else b""
        if len(data) < length:
            raise ClientDisconnected()
        try:
            fields = _parse_qsl(data.decode())
        except ValueError:  # not UTF-8: an empty form, as Werkzeug's parser gives
            fields = []
        no_files = _NO_FILES if self.parameter_storage_class is ImmutableMultiDict else self.parameter_storage_class()
        # set in the instance dict, past the cached properties, as Werkzeug does
        self.__dict__.update(stream=BytesIO(), form=self.parameter_storage_class(fields), files=no_files)
