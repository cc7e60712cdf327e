"""Every use of a private Werkzeug name, in one place, with the reason for each.

setup.cfg bounds Werkzeug to the minor versions these were checked against
(``werkzeug>=3.1,<3.2``), and CI runs the suite on the oldest and the newest of
them. A new Werkzeug minor version means reading these functions again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from inspect import GEN_CREATED, getgeneratorstate
from typing import Any

from werkzeug.datastructures import Headers, MultiDict
from werkzeug.routing import BaseConverter, Rule
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


def multidict_of(cls: type[MultiDict[str, str]], lists: dict[str, list[str]]) -> MultiDict[str, str]:
    """A ``MultiDict`` (or ``ImmutableMultiDict``) holding ``lists``: each name's values, in order.

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
