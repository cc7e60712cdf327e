"""multipart/form-data: microweb's decoder and parser (``BoundaryDecoder``, ``MultipartParser``) against Werkzeug's.

Every test runs Werkzeug's own code and microweb's on the same generated input and
asserts the same answer: the same events, the same form and files, or the same error.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Epilogue, MultipartDecoder, NeedData
from werkzeug.test import EnvironBuilder

from microweb import Request
from microweb._werkzeug import (
    BOUNDARY_PATIENCE,
    BodyStream,
    BoundaryDecoder,
    _BoundarySearch,
    decoder_as_checked,
    disposition_options,
    parser_as_checked,
)
from microweb.wrappers import MultipartParser

BREAKS = [b"\r\n", b"\n", b"\r"]
boundaries = st.text(alphabet="aZ09'()+_,-./:=? *[]{}|^$\\", min_size=1, max_size=10).map(str.encode)


#: The Werkzeug releases whose decoder BoundaryDecoder was written against (their sources were read).
READ_RELEASES = {f"3.1.{n}" for n in range(10)}


def test_the_decoder_is_microwebs_on_the_releases_it_was_read_against_else_werkzeugs() -> None:
    decoder = BoundaryDecoder(b"b")
    if importlib.metadata.version("werkzeug") in READ_RELEASES:
        assert decoder_as_checked() and parser_as_checked() and isinstance(decoder.boundary_re, _BoundarySearch)
    else:  # a release not read yet (its methods' digests differ): Werkzeug's own decoder, exact by definition
        assert not decoder_as_checked() and isinstance(decoder.boundary_re, re.Pattern)


@st.composite
def fragments(draw: st.DrawFn, boundary: bytes) -> bytes:
    """Bytes that look like parts of a multipart body: line breaks, dashes, the boundary, noise."""
    pieces = [b"x", b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t", b"--" + boundary, b"\r\n--" + boundary]
    pieces += [b"\n--" + boundary + b"--", b"--" + boundary + b"\r\n", boundary]
    chosen = draw(st.lists(st.sampled_from(pieces) | st.binary(max_size=12), max_size=12))
    return b"".join(chosen)


@st.composite
def header_blocks(draw: st.DrawFn, boundary: bytes, nl: bytes) -> bytes:
    """A part's header lines, usual ones and odd ones (no disposition, continuations, RFC 2231, non-ASCII)."""
    name = draw(st.sampled_from(['"title"', '"file"', "token", '"a b"', '"q\\"x"', '"%22"', '"é"', '""', '"a;b"']))
    disposition = draw(st.sampled_from(["form-data", "Form-Data", "attachment", ""]))
    parameters = [f"name={name}"] if draw(st.booleans()) or not disposition else []
    if draw(st.booleans()):
        filename = draw(st.sampled_from(['"data.bin"', '"c:\\\\x.txt"', "plain.txt", '""', '"ü.txt"']))
        parameters.append(f"filename={filename}")
    if draw(st.booleans()):
        parameters.append(draw(st.sampled_from(["filename*=UTF-8''%C3%A9.txt", "name*0=a", "x=1", 'Name="N"'])))
    separator = draw(st.sampled_from(["; ", ";", " ; ", ";\t"]))
    value = separator.join([disposition, *parameters]) if parameters else disposition
    lines = []
    if draw(st.integers(0, 9)):  # most parts have one
        lines.append(
            draw(st.sampled_from(["Content-Disposition: ", "content-disposition:", "Content-Disposition:  "])) + value
        )
    extra = st.sampled_from(
        [
            "Content-Type: text/plain; charset=latin-1",
            "Content-Type: application/octet-stream",
            "Content-Length: 3",
            "X-Blank: ",
            "X-Two:  spaced ",
            "X-Tab:\tv",
            "\tcontinued",
            " continued",
            "X-Colon: a: b",
            "X-Bad",
        ]
    )
    lines += draw(st.lists(extra, max_size=3))
    draw(st.randoms()).shuffle(lines)
    text = nl.decode().join(lines).encode()
    if draw(st.booleans()):
        text += draw(fragments(boundary))[:4]  # noise at the end of the block
    return text


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A boundary and a multipart body: preamble, parts, epilogue, any line breaks, maybe cut short."""
    boundary = draw(boundaries)
    nl = draw(st.sampled_from(BREAKS))
    out = draw(st.sampled_from([b"", b"preamble" + nl, nl, b"--x" + nl]))
    for _ in range(draw(st.integers(0, 4))):
        out += b"--" + boundary + draw(st.sampled_from([b"", b" ", b"\t"])) + draw(st.sampled_from(BREAKS))
        out += draw(header_blocks(boundary, nl)) + nl + nl
        out += draw(fragments(boundary)) if draw(st.booleans()) else draw(st.binary(max_size=300))
        out += draw(st.sampled_from(BREAKS))
    out += b"--" + boundary + draw(st.sampled_from([b"--", b"-- ", b"", b"--\r\n", b"--\n"]))
    out += draw(st.sampled_from([b"", b"epilogue", nl + b"--" + boundary + b"--"]))
    if draw(st.integers(0, 5)) == 0:
        out = out[: draw(st.integers(0, len(out)))]  # truncated
    return boundary, out


class Pieces(io.RawIOBase):
    """A body read back at most ``size`` bytes a read, as a slow client's arrives."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.asked = data, size, []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.asked.append(len(buffer))
        chunk, self.data = self.data[: min(self.size, len(buffer))], self.data[min(self.size, len(buffer)) :]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def error(exc: Exception) -> tuple[Any, ...]:
    return ("error", type(exc), getattr(exc, "code", None), str(exc) if not isinstance(exc, HTTPException) else "")


def files_of(files: MultiDict[str, FileStorage]) -> list[tuple[Any, ...]]:
    return [
        (key, f.name, f.filename, f.content_type, list(f.headers.items()), f.stream.read())
        for key, f in files.items(multi=True)
    ]


def events(decoder: MultipartDecoder, body: bytes, size: int) -> list[Any]:
    seen: list[Any] = []
    try:
        for start in [*range(0, len(body), size), None]:
            decoder.receive_data(None if start is None else body[start : start + size])
            while not isinstance(event := decoder.next_event(), NeedData):
                headers = getattr(event, "headers", None)
                seen.append(
                    (
                        type(event),
                        {k: v for k, v in vars(event).items() if k != "headers"},
                        headers and list(headers.items()),
                    )
                )
                if isinstance(event, Epilogue):
                    return seen
    except Exception as exc:  # the same exception, at the same point
        seen.append(error(exc))
    return seen


limits = st.one_of(st.none(), st.integers(0, 400))


@settings(max_examples=1500, deadline=None)
@given(bodies(), st.integers(1, 80), limits, st.one_of(st.none(), st.integers(0, 5)))
def test_the_decoder_gives_werkzeugs_events(
    case: tuple[bytes, bytes], size: int, memory: int | None, parts: int | None
) -> None:
    boundary, body = case
    theirs = events(MultipartDecoder(boundary, memory, max_parts=parts), body, size)
    assert events(BoundaryDecoder(boundary, memory, max_parts=parts), body, size) == theirs


def parsed(
    cls: type[MultiPartParser], options: dict[str, Any], boundary: bytes, body: bytes, size: int
) -> tuple[Any, ...]:
    stream, opened = Pieces(body, size), []

    def factory(**arguments: Any) -> io.BytesIO:
        opened.append(arguments)  # what each file's stream is asked for
        return io.BytesIO()

    try:
        form, files = cls(stream_factory=factory, **options).parse(stream, boundary, len(body))
    except Exception as exc:
        return error(exc), stream.asked, opened
    return list(form.items(multi=True)), files_of(files), stream.asked, opened


@settings(max_examples=1500, deadline=None)
@given(
    bodies(), st.integers(1, 5000), limits, st.one_of(st.none(), st.integers(0, 5)), st.sampled_from([16, 64 * 1024])
)
def test_the_parser_gives_werkzeugs_form_files_and_errors(
    case: tuple[bytes, bytes], size: int, memory: int | None, parts: int | None, buffer_size: int
) -> None:
    boundary, body = case
    options: dict[str, Any] = {"max_form_memory_size": memory, "max_form_parts": parts, "buffer_size": buffer_size}
    theirs = parsed(MultiPartParser, options, boundary, body, size)
    assert parsed(MultipartParser, options, boundary, body, size) == theirs


class WerkzeugParsed(Request):
    form_data_parser_class = FormDataParser  # Werkzeug's own parser, on microweb's request


def answer(cls: type[Request], environ: dict[str, Any]) -> tuple[Any, ...]:
    request = cls(dict(environ, **{"wsgi.input": io.BytesIO(environ["wsgi.input"].getvalue())}))
    try:
        return list(request.form.items(multi=True)), files_of(request.files), request.stream.read()
    except Exception as exc:
        return error(exc)
    finally:
        request.close()


@settings(max_examples=800, deadline=None)
@given(
    bodies(),
    st.sampled_from(["boundary={}", 'boundary="{}"', "charset=utf-8; boundary={}", "boundary=", "x=1", "boundary=é"]),
    st.one_of(st.none(), st.integers(-3, 3)),
    limits,
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.none(), st.integers(0, 600)),
    st.booleans(),
)
def test_requests_read_a_multipart_form_as_werkzeugs_parser_does(
    case: tuple[bytes, bytes],
    parameters: str,
    length_off: int | None,
    memory: int | None,
    parts: int | None,
    content: int | None,
    silent: bool,
) -> None:
    boundary, body = case
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(body)).get_environ()
    environ["CONTENT_TYPE"] = "multipart/form-data; " + parameters.format(boundary.decode())
    environ["CONTENT_LENGTH"] = str(max(0, len(body) + length_off)) if length_off is not None else str(len(body))

    def limited(cls: type[Request]) -> type[Request]:
        attributes = {"max_form_memory_size": memory, "max_form_parts": parts, "max_content_length": content}

        def make_form_data_parser(self: Request) -> FormDataParser:
            parser = cls.make_form_data_parser(self)
            parser.silent = silent
            return parser

        return type(cls.__name__, (cls,), {**attributes, "make_form_data_parser": make_form_data_parser})

    assert answer(limited(Request), environ) == answer(limited(WerkzeugParsed), environ)


@settings(max_examples=3000, deadline=None)
@given(st.data(), boundaries, st.booleans(), st.sampled_from([0, 1, 3, BOUNDARY_PATIENCE]))
def test_the_boundary_search_finds_what_the_pattern_finds(
    data: st.DataObject, boundary: bytes, preamble: bool, patience: int
) -> None:
    text = data.draw(fragments(boundary))
    pos = data.draw(st.integers(0, len(text)))
    decoder = MultipartDecoder(boundary)
    pattern = decoder.preamble_re if preamble else decoder.boundary_re
    mine = _BoundarySearch(boundary, line_break_optional=preamble, patience=patience)
    for where in (text, bytearray(text)):  # the second search after the first's misses: the pattern's, maybe
        theirs = pattern.search(where, pos)
        found = mine.search(where, pos)
        assert (found and (found.start(), found.end(), found.group(1))) == (
            theirs and (theirs.start(), theirs.end(), theirs.group(1))
        )
    assert mine.pattern == pattern.pattern  # anything else asked of it is Werkzeug's pattern


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('ab-_.+/*=;" \t\\%é;\'Z'), max_size=40),
    st.text(alphabet=st.sampled_from("aZ-_.*é0"), min_size=1, max_size=6),
)
def test_dispositions_are_split_as_parse_options_header_splits_them(text: str, key: str) -> None:
    values = [text, f'form-data; name="{text}"', f'form-data; name="{text}"; filename="{text}.txt"']
    values.append(f"form-data;{text}")
    values += [f'form-data; {key}="{text}"', f'form-data;{key}="a"; {key.upper()}="{text}"', f'{key}; name="{text}"']
    for value in values:
        assert disposition_options(value) == parse_options_header(value)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 320), st.lists(st.integers(-1, 400), max_size=6), st.booleans())
def test_a_body_stream_reads_as_werkzeugs_limited_stream(body: bytes, limit: int, sizes: list[int], raw: bool) -> None:
    from werkzeug.wsgi import LimitedStream

    def reads(cls: type[LimitedStream]) -> list[Any]:
        source: Any = Pieces(body, 7) if raw else io.BytesIO(body)
        stream, out = cls(source, limit), []
        for size in sizes:
            try:
                out.append(stream.read(size))
            except Exception as exc:
                out.append(error(exc))
                break
        return [*out, stream._pos, getattr(source, "asked", None)]

    assert reads(BodyStream) == reads(LimitedStream)


def test_a_new_boundary_compiles_no_pattern() -> None:
    # Werkzeug compiles two patterns for each new boundary; browsers send a new one with every form.
    compiled = re.compile
    try:
        re.compile = None  # type: ignore[assignment]
        decoder = BoundaryDecoder(b"never-seen-before-7f3a")
        decoder.receive_data(b'--never-seen-before-7f3a\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n')
        decoder.receive_data(b"--never-seen-before-7f3a--\r\n")
        decoder.receive_data(None)
        kinds = [type(decoder.next_event()).__name__ for _ in range(4)]
    finally:
        re.compile = compiled
    assert kinds == ["Preamble", "Field", "Data", "Epilogue"]


def test_on_a_werkzeug_not_read_yet_the_parser_and_decoder_are_werkzeugs(monkeypatch: Any) -> None:
    import microweb._werkzeug as private
    import microweb.wrappers as wrappers

    monkeypatch.setattr(private, "decoder_as_checked", lambda: False)
    monkeypatch.setattr(wrappers, "parser_as_checked", lambda: False)
    decoder = BoundaryDecoder(b"b")
    assert isinstance(decoder.boundary_re, re.Pattern)  # Werkzeug's __init__ ran
    searched: list[bytes] = []
    monkeypatch.setattr(MultiPartParser, "parse", lambda self, stream, boundary, length: searched.append(boundary))
    MultipartParser().parse(io.BytesIO(b""), b"b", 0)
    assert searched == [b"b"]  # handed to Werkzeug's own parse


def test_a_body_full_of_boundary_look_alikes_is_searched_by_werkzeugs_pattern_after_a_few() -> None:
    # "x--a" is "--" + the boundary "a" with no line break before it: no boundary, a Python step each.
    body = b"--a\r\nContent-Disposition: form-data; name=f; filename=f\r\n\r\n" + b"x--a" * 5000 + b"\r\n--a--\r\n"
    decoder = BoundaryDecoder(b"a")
    search = decoder.boundary_re
    assert isinstance(search, _BoundarySearch)
    theirs = events(MultipartDecoder(b"a"), body, 65536)
    assert events(decoder, body, 65536) == theirs  # the same events, the file's data whole
    assert search.misses == BOUNDARY_PATIENCE + 1 and search.werkzeugs is not None  # then the pattern, in C
    assert search.werkzeugs.pattern == MultipartDecoder(b"a").boundary_re.pattern
