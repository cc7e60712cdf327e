"""Every use of a private Werkzeug name, in one place, with the reason for each.

setup.cfg bounds Werkzeug to the minor versions these were checked against
(``werkzeug>=3.1,<3.2``), and CI runs the suite on the oldest and the newest of
them. A new Werkzeug minor version means reading these functions again.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from inspect import GEN_CREATED, getgeneratorstate
from io import BytesIO
from typing import Any, NamedTuple, cast

from werkzeug.datastructures import Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.routing import BaseConverter, Rule
from werkzeug.sansio.multipart import (
    BLANK_LINE_RE,
    LINE_BREAK,
    NEED_DATA,
    SEARCH_EXTRA_LENGTH,
    Event,
    Field,
    File,
    MultipartDecoder,
    State,
)
from werkzeug.wrappers import Response
from werkzeug.wrappers.response import _iter_encoded
from werkzeug.wsgi import ClosingIterator, LimitedStream

from .http import USUAL_NAMES, usual_name

#: The prefix of the regex groups Werkzeug's compiled rule parts give their converters' values.
_GROUP_PREFIX = "__werkzeug_"


def rule_parts(rule: Rule) -> list[Any]:
    """A bound rule's parts (``RulePart``: content, final, static, suffixed), domain part first.

    The route index (``routing.py``) tests a path's segments against these directly:
    Werkzeug's own matcher reads the same parts, so the two agree by construction.
    """
    return list(rule._parts)


def rule_converters(rule: Rule) -> dict[str, BaseConverter]:
    """A bound rule's converters by argument name, in the rule's order."""
    return dict(rule._converters)


def rule_trace(rule: Rule) -> list[tuple[bool, str]]:
    """A bound rule's build trace: ``(is_variable, text or argument name)``, the domain part, ``"|"``, then the path.

    The URL builders (``routing.py``) assemble URLs from the same pieces Werkzeug's own
    compiled builder joins, so the two agree by construction.
    """
    return list(rule._trace)


def converter_groups(group_names: Iterable[str]) -> list[str]:
    """The names of a part regex's converter groups, in the order of the rule's converters."""
    groups = [name for name in group_names if name.startswith(_GROUP_PREFIX)]
    return sorted(groups, key=lambda name: int(name[len(_GROUP_PREFIX) :]))


class EncodedStream:
    """What ``get_app_iter`` returns for a streamed body, as one object: the response's iterable,
    str chunks encoded as ``iter_encoded`` encodes them, and ``close`` closing the response.

    PERF: Werkzeug's is a ``ClosingIterator`` (a ``partial`` per chunk) over an encoding generator.
    The iterable is read (``iter``) at the first chunk, as that generator reads it.
    """

    __slots__ = ("close", "iterator", "source")

    def __init__(self, response: Response) -> None:
        self.source: Iterable[str | bytes] = response.response
        self.iterator: Iterator[str | bytes] | None = None
        self.close = response.close

    def __iter__(self) -> EncodedStream:
        return self

    def __next__(self) -> bytes:
        iterator = self.iterator
        if iterator is None:
            iterator = self.iterator = iter(self.source)
        chunk = next(iterator)
        return chunk.encode() if isinstance(chunk, str) else chunk


def encoded_source(response: Response, body: Iterable[bytes]) -> Iterable[str | bytes] | None:
    """The view's iterable behind ``body``, if ``body`` is Werkzeug's own wrapping of it; else None.

    That is ``get_app_iter``'s ``ClosingIterator`` over ``_iter_encoded(response.response)``
    that closes ``response``: iterating ``response.response`` and encoding its str chunks
    gives the same bytes. PERF: a streamed chunk then skips two Python frames (the
    iterator's ``__next__`` and the encoding generator). Read from ``_callbacks`` (the
    encoding generator's close, then the response's) and that generator's code object.
    """
    if type(body) is EncodedStream:
        return body.source if body.iterator is None else None  # started: a chunk may be out already
    if type(body) is not ClosingIterator or type(response).iter_encoded is not Response.iter_encoded:
        return None
    callbacks = body._callbacks
    if len(callbacks) != 2 or callbacks[1] != response.close:
        return None
    encoder: Any = getattr(callbacks[0], "__self__", None)
    if getattr(encoder, "gi_code", None) is not _iter_encoded.__code__ or getgeneratorstate(encoder) != GEN_CREATED:
        return None  # not Werkzeug's encoder, or it has started: a chunk may be in it already
    return response.response


class ResponseHeaders(Headers):
    """Werkzeug's ``Headers``, where setting or adding one ``str`` value by a ``str`` name costs less.

    PERF: ``headers[name] = value`` goes through ``set`` and ``_str_header_value`` (a regex
    search); here a value with no CR or LF is stored directly, with ``set``'s rule (the
    first header of that name replaced, the others removed, else appended). Anything else
    (other types, keyword options, a newline, which raises) goes to Werkzeug's. Reads
    ``_list``, the pairs every ``Headers`` method reads and writes.

    A plain response's headers (:func:`plain_headers`) also keep ``names``: then a new
    header whose name and value pass the send check as they are (ASCII letters, digits
    and ``-``; printable ASCII), and that neither that check nor Werkzeug's send treats
    apart, is appended to ``checked`` too, so neither the check nor the send reads it again.
    """

    #: The first pairs as microweb made them from checked values (a copy): while they are
    #: still first and the same, the check before sending skips them (:func:`unchecked_pairs`).
    checked: list[tuple[str, str]] = []  # noqa: RUF012  (never mutated: each instance sets its own)
    #: The lower-case names in ``checked``, when those pairs are sent as they are (one Content-Length,
    #: no URL header): :func:`send_state`. None: not known, nothing is appended to ``checked``.
    names: set[str] | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        names = self.names
        if names is not None and type(key) is str and type(value) is str:
            lower = USUAL_NAMES.get(key)
            if lower is None:
                lower = usual_name(key)
            pairs = self._list
            if lower and lower not in names and value.isascii() and value.isprintable() and pairs == self.checked:
                # a new name, all pairs checked: set appends, and the pair is a checked one (see the class)
                pair = (key, value)
                pairs.append(pair)
                self.checked.append(pair)
                names.add(lower)
                return
        if type(key) is not str or type(value) is not str or "\n" in value or "\r" in value:
            super().__setitem__(key, value)
            return
        lower = key.lower()
        pairs = self._list
        for index, (name, _) in enumerate(pairs):
            if name.lower() == lower:
                pairs[index] = (key, value)
                rest = pairs[index + 1 :]
                if rest:
                    pairs[index + 1 :] = [pair for pair in rest if pair[0].lower() != lower]
                return
        pairs.append((key, value))

    def add(self, key: str, value: Any, /, **kwargs: Any) -> None:
        """Add a header (see Werkzeug's ``Headers.add``)."""
        if kwargs or type(value) is not str or "\n" in value or "\r" in value:
            super().add(key, value, **kwargs)
            return
        pair = (key, value)
        pairs = self._list
        pairs.append(pair)
        names = self.names
        if names is not None and type(key) is str and value.isascii() and value.isprintable():
            lower = USUAL_NAMES.get(key)
            if lower is None:
                lower = usual_name(key)
            checked = self.checked
            if lower and len(pairs) == len(checked) + 1 and pairs[:-1] == checked:
                # all pairs but this one checked, and this one passes the check: a checked one too
                checked.append(pair)
                names.add(lower)

    def __eq__(self, other: object) -> bool:
        # Werkzeug's __eq__ wants the same class on both sides: a plain Headers compares equal as before.
        if not isinstance(other, Headers) or type(other) not in (Headers, ResponseHeaders):
            return NotImplemented
        return {(name.lower(), value) for name, value in self._list} == {
            (name.lower(), value) for name, value in other._list
        }

    __hash__ = None


def headers_of(pairs: list[tuple[str, str]], extra: list[tuple[str, str]] | None = None) -> ResponseHeaders:
    """A :class:`ResponseHeaders` holding ``pairs`` (the list itself), without re-checking each value.

    PERF: ``Headers(pairs)`` validates every value again (about 0.8 µs for two), and its
    ``__init__`` only makes the empty ``_list``. Only for pairs microweb made itself from
    values that are already checked. With ``extra``, ``pairs`` are a plain response's two
    headers then ``extra``: if no name there is one the send check or Werkzeug's send treats
    apart, they are sent as they are, and more checked pairs can be appended (``names``).
    """
    headers = _new(ResponseHeaders)
    headers._list = pairs
    headers.checked = pairs[:]
    if extra is not None:
        names = {"content-type", "content-length"}
        for name, _ in extra:
            lower = USUAL_NAMES.get(name)
            if lower is None:
                lower = usual_name(name)
            if not lower:
                break
            names.add(lower)
        else:
            headers.names = names
    return headers


def plain_headers(content_type: str, length: str) -> ResponseHeaders:
    """The headers of a plain response: its checked Content-Type and its Content-Length, sent as they are.

    They keep ``names``, so checked pairs can be appended (see :class:`ResponseHeaders`).
    """
    headers = _new(ResponseHeaders)
    pairs = headers._list = [("Content-Type", content_type), ("Content-Length", length)]
    headers.checked = pairs[:]
    headers.names = {"content-type", "content-length"}
    return headers


_new = object.__new__


def unchecked_pairs(headers: Headers) -> list[tuple[str, str]]:
    """``headers``' pairs but the first ones microweb made from checked values, if they are unchanged.

    The header check is one test per pair, so skipping pairs known to pass gives the same answer.
    """
    if type(headers) is ResponseHeaders:
        pairs = headers._list
        checked = headers.checked
        if pairs == checked:
            return []
        if checked and pairs[: len(checked)] == checked:
            return pairs[len(checked) :]
        return pairs
    return headers._list if type(headers) is Headers else list(headers)


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """A copy of ``headers``' pairs, in order (``to_wsgi_list`` without its two Python calls)."""
    return headers._list[:] if type(headers) is ResponseHeaders or type(headers) is Headers else list(headers)


def init_response(response: Response, body: Iterable[bytes] | Iterable[str], status: str, status_code: int) -> None:
    """Set what ``Response.__init__`` sets but the headers, for a list or iterable body and a checked status.

    PERF: the status setter parses the status again on every response (about 0.4 µs),
    and ``set_data`` goes through the headers, which a plain response makes later.
    """
    response._status = status
    response._status_code = status_code
    response.direct_passthrough = False
    response._on_close = []
    response.response = body


def status_of(response: Response) -> str:
    """``response``'s status line (PERF: the ``status`` property is a Python call through C, dearer)."""
    return response._status


def check_state(response: Response, headers: Headers | None) -> tuple[str, Sequence[tuple[str, str]]]:
    """``response``'s status line, and the pairs of ``headers`` the check before sending reads (none for None).

    PERF: one call where the ``status`` property and :func:`unchecked_pairs` are two.
    """
    status = response._status
    if headers is None or (type(headers) is ResponseHeaders and headers._list == headers.checked):
        return status, ()
    return status, unchecked_pairs(headers)


def status_code_of(response: Response) -> int:
    """``response``'s status code (PERF: the ``status_code`` property is a Python call through C, dearer)."""
    return response._status_code


def plain_send_state(response: Response) -> tuple[str, int, Any]:
    """``response``'s status line, its code and its body (PERF: one call for a plain response's send)."""
    return response._status, response._status_code, response.response


def send_state(response: Response, headers: Headers | None) -> tuple[str, int, bool, list[tuple[str, str]] | None]:
    """``response``'s status line, its code, whether ``call_on_close`` gave it something to run, and a copy of
    ``headers``' pairs if Werkzeug's ``get_wsgi_headers`` would send them unchanged (else None).

    Known for headers with ``names`` all of whose pairs are still checked ones: a Content-Length,
    no Location or Content-Location (the status and body are the caller's to judge).
    PERF: one call where the ``status`` and ``status_code`` properties and a scan of the pairs are three.
    """
    if headers is None or type(headers) is not ResponseHeaders or headers.names is None:
        return response._status, response._status_code, bool(response._on_close), None
    listed = headers._list
    pairs = listed[:] if listed == headers.checked else None
    return response._status, response._status_code, bool(response._on_close), pairs


def multidict_of(
    cls: type[MultiDict[str, str]], lists: dict[str, list[str]] | Iterable[tuple[str, list[str]]]
) -> MultiDict[str, str]:
    """A ``MultiDict`` (or ``ImmutableMultiDict``) holding ``lists``: each name's values, in order.

    ``lists`` is a dict, or pairs of a name and its values (a name repeated: its last list wins).

    PERF: ``MultiDict.__init__`` adds the values one by one in Python. A MultiDict is a dict
    of value lists (Werkzeug's layout, which all its methods read), so one ``dict.update``
    fills it, and ``MultiDict.__init__`` with no mapping only makes the empty dict, so it is
    skipped (a Python frame). Only for Werkzeug's own two classes: a subclass may keep more state.
    """
    multidict = dict.__new__(cls)
    dict.update(multidict, lists)
    return multidict


class BodyStream(LimitedStream):
    """Werkzeug's ``LimitedStream``, whose whole-body read (``read()``) is one read of the input.

    PERF: Werkzeug's ``readall`` reads through ``readinto`` and a ``bytearray`` copy, in
    Python. This reads what is left of the limit at once (``_pos`` is how much was read);
    a short read goes on through Werkzeug's, which ends it as Werkzeug does (the rest, or
    ``on_disconnect``), and so does a read that fails.
    """

    def readall(self) -> bytes:
        """The rest of the body, up to the limit."""
        remaining = self.limit - self._pos
        if remaining <= 0 or self._limit_is_max:
            return super().readall()
        try:
            data: bytes = self._stream.read(remaining)
        except (OSError, ValueError) as exc:
            self.on_disconnect(error=exc)
            return b""
        self._pos += len(data)
        return data if len(data) == remaining else data + super().readall()

    def read(self, size: int | None = -1) -> bytes | None:
        """At most ``size`` bytes of the body (all of it for -1): what Werkzeug's ``read`` gives.

        PERF: Werkzeug's reads through ``readinto`` into a ``size`` buffer, by way of a second one
        the size of what is left when that is smaller (a 16 KiB body read by the form parser's
        64 KiB pieces is copied four times). This asks the input the same (``readinto`` a buffer of
        the smaller size, else ``read``), once.
        """
        if size is None or size < 0:
            return self.readall()  # what RawIOBase.read does for all of it
        remaining = self.limit - self._pos
        if size == 0:
            return super().read(0)  # nothing: Werkzeug's answer (a 400 when the client has gone, ...)
        if remaining <= 0:
            self.on_exhausted()  # as Werkzeug's readinto, without a size buffer to read nothing into
            return b""
        length = min(size, remaining)
        source = self._stream
        try:
            if hasattr(source, "readinto") and type(source) is not BytesIO:  # a BytesIO's read is its readinto
                data: bytes | bytearray = bytearray(length)
                got = source.readinto(data)
                if got != length:
                    data = data[: got or 0]
            else:
                data = source.read(length)
        except (OSError, ValueError) as exc:
            self.on_disconnect(error=exc)
            return b""
        if not data:
            self.on_disconnect()
            return b""
        self._pos += len(data)
        return bytes(data)


#: Where Werkzeug's ``Request.get_data`` keeps the body it read (a private attribute): microweb reads a
#: body in one call and leaves it there, where Werkzeug's ``get_data`` and ``form`` look for it.
CACHED_DATA = "_cached_data"


def read_body(source: Any, length: int) -> tuple[bytes, BodyStream | None]:
    """What ``BodyStream(source, length).read()`` gives, and that stream, if it had to be made; else None.

    PERF: a body that comes whole in the first read (about every body) is read without
    making the stream (a few Python frames). A short read or a failing one goes on as
    ``BodyStream.readall`` goes on after its first read: in that stream, as Werkzeug's.
    """
    if length <= 0:
        return b"", None  # nothing to read: readall reads nothing either
    try:
        data: bytes = source.read(length)
    except (OSError, ValueError) as exc:
        stream = BodyStream(source, length)
        stream.on_disconnect(error=exc)
        return b"", stream
    if len(data) == length:
        return data, None
    stream = BodyStream(source, length)
    stream._pos = len(data)
    return data + LimitedStream.readall(stream), stream


def read_stream(length: int) -> BodyStream:
    """A ``BodyStream`` of ``length`` bytes read to its end, as :func:`read_body` left it: reads give ``b""``."""
    stream = BodyStream(BytesIO(b""), length)
    stream._pos = length
    return stream


# ---- multipart/form-data: a cheaper MultipartDecoder, with Werkzeug's events

#: A part's Content-Disposition of the usual shape, ``form-data; name="a"; filename="b"``: ASCII
#: token parameter names (no RFC 2231 ``*``), quoted values with no quote, backslash, ``%`` or ``;``.
_PLAIN_DISPOSITION = r'[\w.+/-]+(?:; ?[\w.-]+="[^"\\%;]*")+'
_DISPOSITION_PARAMETERS = r';[ ]?([\w.-]+)="([^"\\%;]*)"'
#: A part's header block of the usual shape: ``Name: value`` lines of visible ASCII split by CRLF,
#: a value without blanks at either end. Every Werkzeug 3.1 reads it as the split below does.
_HEADER_LINE = rb"[!-9;-~]+: ?(?:[!-~](?:[ -~]*[!-~])?)?"
_PLAIN_HEADERS = rb"%s(?:\r\n%s)*" % (_HEADER_LINE, _HEADER_LINE)
_HEADER_PAIRS = r"([!-9;-~]+): ?((?:[!-~](?:[ -~]*[!-~])?)?)(?:\r\n|\Z)"


def disposition_options(value: str) -> tuple[str, dict[str, str]]:
    """``parse_options_header(value)``, split directly when ``value`` has the usual shape."""
    patterns = _patterns()
    if patterns.plain_disposition(value) is None:
        return parse_options_header(value)
    end = value.index(";")
    return value[:end], {key.lower(): text for key, text in patterns.disposition_parameters(value, end)}


def _source_digest(module: Any) -> str | None:
    """A digest of the source file of the module ``module``; None if it has none to read."""
    import hashlib  # only here: the check runs once, at the first multipart body

    try:
        source = inspect.getsource(module)  # the whole file, read once (no tokenizing, as for a function)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


#: What follows ``--`` + boundary in Werkzeug's ``preamble_re`` and ``boundary_re``: their group 1.
_TAIL = rb"(--[^\S\n\r]*%s?|[^\S\n\r]*%s)" % (LINE_BREAK, LINE_BREAK)


class _Patterns(NamedTuple):
    plain_disposition: Callable[[str], re.Match[str] | None]
    disposition_parameters: Callable[[str, int], list[Any]]
    plain_headers: Callable[[bytes | bytearray], re.Match[bytes] | None]
    header_pairs: Callable[[str], list[Any]]
    boundary_tail: Callable[[bytes | bytearray, int], re.Match[bytes] | None]


@functools.cache
def _patterns() -> _Patterns:
    """The multipart shortcuts' patterns, compiled at the first multipart body: not at import, which every
    CGI request (a fresh process) pays, multipart or not."""
    return _Patterns(
        re.compile(_PLAIN_DISPOSITION, re.ASCII).fullmatch,
        re.compile(_DISPOSITION_PARAMETERS, re.ASCII).findall,
        re.compile(_PLAIN_HEADERS).fullmatch,
        re.compile(_HEADER_PAIRS).findall,
        re.compile(_TAIL, re.MULTILINE).match,
    )


#: How many occurrences of ``--`` + boundary that begin no boundary one body may have before the
#: rest of it is searched by Werkzeug's pattern (see ``_BoundarySearch``).
BOUNDARY_PATIENCE = 32


class _Found:
    """A boundary found: what Werkzeug's decoder reads of its pattern's match (start, end, group 1)."""

    __slots__ = ("_end", "_start", "_tail")

    def __init__(self, start: int, end: int, tail: bytes) -> None:
        self._start, self._end, self._tail = start, end, tail

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int) -> bytes:
        assert index == 1, "Werkzeug's decoder reads group 1 only"
        return self._tail


class _BoundarySearch:
    """A decoder's ``boundary_re`` (or ``preamble_re``, whose line break is optional), without a regex per boundary.

    PERF: Werkzeug compiles both patterns for each decoder (the boundary is in them): a
    form with a new boundary, as every browser sends, compiles two regexes, 2 million
    instructions; with the boundary seen before, ``re.escape`` alone is 50,000. And its
    ``search`` tries the pattern at every byte of a file part (its first byte, a line
    break, is in most binary data). Here: every match is a line break of one or two bytes
    (optional in the preamble), ``--`` and the boundary, and a tail (``_TAIL``).
    So it starts at most two bytes before an occurrence of ``--`` + boundary (found by
    ``bytes.find``); those positions, tried in order as the regex tries its alternatives
    there, give the leftmost match, which the pattern's ``search`` gives (it has no
    anchor or lookbehind: a match at a position does not depend on where the search began).

    Each occurrence that is no boundary costs Python steps, and the client chooses the
    boundary and the data (``x--a`` a million times, for the boundary ``a``). After
    ``patience`` of them, the rest of this body is searched by Werkzeug's own pattern, in C:
    a body made to be slow costs what it costs Werkzeug.
    """

    __slots__ = ("line_break_optional", "marker", "misses", "patience", "werkzeugs")

    def __init__(self, boundary: bytes, *, line_break_optional: bool, patience: int = BOUNDARY_PATIENCE) -> None:
        self.marker = b"--" + boundary
        self.line_break_optional = line_break_optional
        self.patience = patience
        self.misses = 0  # occurrences of the marker, in this body, that began no boundary
        self.werkzeugs: re.Pattern[bytes] | None = None  # Werkzeug's pattern, once patience ran out

    def search(self, data: bytes | bytearray, pos: int = 0) -> _Found | re.Match[bytes] | None:
        """The leftmost match in ``data[pos:]``, as the pattern's ``search`` gives it."""
        if self.werkzeugs is not None:
            return self.werkzeugs.search(data, pos)
        marker = self.marker
        tried = pos  # positions before this were tried, or are before pos
        found = data.find(marker, pos)
        while found >= 0:
            for start in (found - 2, found - 1, found):
                if start >= tried and (match := self._match(data, start)) is not None:
                    return match
            tried = found + 1
            self.misses += 1
            if self.misses > self.patience:  # no match begins before tried: the pattern goes on from there
                self.werkzeugs = werkzeugs_pattern(self.marker[2:], self.line_break_optional)
                return self.werkzeugs.search(data, tried)
            found = data.find(marker, found + 1)
        return None

    def _match(self, data: bytes | bytearray, start: int) -> _Found | None:
        # The line break's alternatives in the pattern's order (\r\n, \n, \r, then none if optional);
        # at one position at most one of the first three fits.
        head = data[start : start + 2]
        if head == b"\r\n":
            after = start + 2
        elif head[:1] in (b"\n", b"\r"):
            after = start + 1
        elif self.line_break_optional:
            after = start
        else:
            return None
        matched = self._rest(data, after)
        if matched is None and after > start and self.line_break_optional:
            matched = self._rest(data, start)  # the optional line break left out
        return None if matched is None else _Found(start, matched.end(), matched.group(1))

    def _rest(self, data: bytes | bytearray, at: int) -> re.Match[bytes] | None:
        marker = self.marker
        if not data.startswith(marker, at):
            return None
        return _patterns().boundary_tail(data, at + len(marker))

    def __getattr__(self, name: str) -> Any:
        # Anything else a decoder asks of its pattern: Werkzeug's own (never asked by Werkzeug 3.1).
        return getattr(werkzeugs_pattern(self.marker[2:], self.line_break_optional), name)


@functools.lru_cache(maxsize=32)  # bounded: the boundaries are the clients'
def werkzeugs_pattern(boundary: bytes, line_break_optional: bool) -> re.Pattern[bytes]:
    """The ``preamble_re`` (line break optional) or ``boundary_re`` Werkzeug's decoder compiles for ``boundary``."""
    optional = b"?" if line_break_optional else b""
    return re.compile(rb"%s%s--%s%s" % (LINE_BREAK, optional, re.escape(boundary), _TAIL), re.MULTILINE)


#: The source files ``BoundaryDecoder`` and ``MultipartParser`` were written against (``_source_digest``):
#: ``werkzeug/sansio/multipart.py`` and ``werkzeug/formparser.py`` of every Werkzeug 3.1.0 to 3.1.9 (in
#: which ``MultipartDecoder.__init__``, ``next_event``, ``_parse_headers`` and ``_parse_data``, and
#: ``MultiPartParser.parse``, were read). Any other file, even one edited in a comment, is not trusted.
_CHECKED_DECODER = {"7cc1a063d0af3034", "ceb6a9d54e34761e", "b8b74b1fb7df7a51", "82acf0a7a620c84f", "dda9e46bf487e4d0"}
_CHECKED_PARSER = {"bf4f85f4e726347b", "93a06bc788bab8b5"}


@functools.cache
def decoder_as_checked() -> bool:
    """Whether this Werkzeug's decoder is one of those; if not, ``BoundaryDecoder`` is Werkzeug's, unchanged.

    Read at the first multipart body, not at import: even reading one file costs a CGI
    request (a fresh process) what it would pay for nothing.
    """
    return _source_digest(sys.modules[MultipartDecoder.__module__]) in _CHECKED_DECODER


@functools.cache
def parser_as_checked() -> bool:
    """Whether this Werkzeug's ``MultiPartParser.parse`` is the one microweb's ``MultipartParser`` follows.

    If not, that parser is Werkzeug's. Read at the first multipart body, as :func:`decoder_as_checked`.
    """
    return _source_digest(sys.modules[MultiPartParser.__module__]) in _CHECKED_PARSER


class BoundaryDecoder(MultipartDecoder):
    """Werkzeug's multipart decoder, with the same events, found with less work.

    No regex is compiled per boundary, and the boundary after a part is searched only
    where it can start (see ``_BoundarySearch``); a part's headers and Content-Disposition
    of the usual shape are split directly, as Werkzeug splits them. On a Werkzeug whose
    decoder is not one this was checked against, it is Werkzeug's decoder.
    """

    def __init__(
        self, boundary: bytes, max_form_memory_size: int | None = None, *, max_parts: int | None = None
    ) -> None:
        self.as_checked = decoder_as_checked()
        if not self.as_checked:
            super().__init__(boundary, max_form_memory_size, max_parts=max_parts)
            return
        # Werkzeug's __init__ (in _CHECKED_DECODER's files), less its two patterns' compilation.
        self.buffer = bytearray()
        self.complete = False
        self.max_form_memory_size = max_form_memory_size
        self.max_parts = max_parts
        self.state = State.PREAMBLE
        self.boundary = boundary
        self.preamble_re = cast("re.Pattern[bytes]", _BoundarySearch(boundary, line_break_optional=True))
        self.boundary_re = cast("re.Pattern[bytes]", _BoundarySearch(boundary, line_break_optional=False))
        self._search_position = 0
        self._parts_decoded = 0

    def next_event(self) -> Event:
        """The next event (Werkzeug's ``next_event``)."""
        if self.state is not State.PART or not self.as_checked:
            return super().next_event()
        return self._part_event()

    def _part_event(self) -> Event:
        # Werkzeug's PART state, written against the next_event of _CHECKED_DECODER's files (private: the state
        # machine's _search_position and _parts_decoded): its headers and options are split here, as
        # Werkzeug's _parse_headers and parse_options_header split them, when they have the usual shape.
        buffer = self.buffer
        blank = BLANK_LINE_RE.search(buffer, self._search_position)
        if blank is None:
            self._search_position = max(0, len(buffer) - SEARCH_EXTRA_LENGTH)
            if self.complete:
                raise ValueError(f"Invalid form-data cannot parse beyond {self.state}")
            return NEED_DATA
        headers = self._headers(buffer[: blank.start()])
        del buffer[: (blank.start() + blank.end()) // 2]  # the body starts with the blank line's second break
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise ValueError("Missing Content-Disposition header")
        options = disposition_options(disposition)[1]
        name = cast(str, options.get("name"))
        filename = options.get("filename")
        event: Event = Field(name, headers) if filename is None else File(name, filename, headers)
        self.state = State.DATA_START
        self._search_position = 0
        self._parts_decoded += 1
        if self.max_parts is not None and self._parts_decoded > self.max_parts:
            raise RequestEntityTooLarge()
        return event

    def _headers(self, block: bytearray) -> Headers:
        patterns = _patterns()
        if patterns.plain_headers(block) is None:
            return self._parse_headers(block)
        headers = Headers()
        headers._list = patterns.header_pairs(block.decode("ascii"))  # what Headers(pairs) holds, less its checks
        return headers
