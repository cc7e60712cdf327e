"""The wiki's markup, turned into HTML. A small language of its own:

- a blank line separates paragraphs; ``= Title =`` and ``== Section ==`` are headings;
- lines starting with ``- `` make a list; ``----`` alone is a rule;
- ``*bold*``, ``_italic_``, `` `code` ``; ``https://...`` becomes a link;
- a WikiWord (two or more capitalised words run together, like ``FrontPage``)
  links to that page; ``!WikiWord`` keeps it plain text.

Everything is HTML-escaped first, so page text can never inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from markupsafe import Markup, escape

WIKIWORD = re.compile(r"(?:[A-Z][a-z0-9]+){2,}")
_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|(?P<url>https?://[^\s<>\"]+[^\s<>\".,;:!?)])"
    r"|(?P<bang>!)?(?<![\w])(?P<word>(?:[A-Z][a-z0-9]+){2,})(?![\w])"
    r"|\*(?P<bold>[^*\n]+)\*"
    r"|(?<![\w])_(?P<italic>[^_\n]+)_(?![\w])"
)


def is_page_name(name: str) -> bool:
    return WIKIWORD.fullmatch(name) is not None


def wiki_words(text: str) -> set[str]:
    """The page names ``text`` links to (line by line, as :func:`to_html` reads it)."""
    matches = (m for line in text.splitlines() for m in _INLINE.finditer(line))
    return {m.group("word") for m in matches if m.group("word") and not m.group("bang")}


def to_html(text: str, existing: set[str], page_url: Callable[[str], str]) -> Markup:
    """``text`` as HTML; links to pages not in ``existing`` are marked ``class="missing"``."""

    def inline(line: str) -> str:
        out: list[str] = []
        pos = 0
        for m in _INLINE.finditer(line):
            out.append(escape(line[pos : m.start()]))
            out.append(_inline_element(m, existing, page_url))
            pos = m.end()
        out.append(escape(line[pos:]))
        return "".join(out)

    return Markup("\n".join(_blocks(text.replace("\r\n", "\n"), inline)))


def _inline_element(m: re.Match[str], existing: set[str], page_url: Callable[[str], str]) -> str:
    if m.group("code") is not None:
        return f"<code>{escape(m.group('code'))}</code>"
    if m.group("url") is not None:
        url = escape(m.group("url"))
        return f'<a href="{url}" rel="nofollow">{url}</a>'
    if m.group("word") is not None:
        word = m.group("word")
        if m.group("bang"):
            return str(escape(word))
        css = "" if word in existing else ' class="missing"'
        return f'<a href="{escape(page_url(word))}"{css}>{word}</a>'
    if m.group("bold") is not None:
        return f"<strong>{escape(m.group('bold'))}</strong>"
    return f"<em>{escape(m.group('italic'))}</em>"


def _blocks(text: str, inline: Callable[[str], str]) -> Iterator[str]:
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        heading = _heading(lines[0].strip()) if len(lines) == 1 else None
        if heading:
            level, title = heading
            yield f"<h{level}>{inline(title)}</h{level}>"
        elif len(lines) == 1 and lines[0].strip() == "----":
            yield "<hr>"
        elif all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{inline(line[2:])}</li>" for line in lines)
            yield f"<ul>{items}</ul>"
        else:
            yield "<p>" + "<br>\n".join(inline(line) for line in lines) + "</p>"


def _heading(line: str) -> tuple[int, str] | None:
    """(level, title) of a stripped heading line like ``== Section ==``, or None.

    What ``re.fullmatch(r"(={1,3})\\s*(.+?)\\s*=*", line)`` finds, without its
    backtracking: that regex takes time quadratic in the length of a line like
    ``"=a" + "=" * n + "b"`` (40 s for a page of 100,000 characters).
    """
    marks = min(len(line) - len(line.lstrip("=")), 3)
    if marks and marks == len(line):  # nothing but "=", "==" or "===": the last "=" is the title
        marks -= 1
    if marks == 0:
        return None
    rest = line[marks:].lstrip()
    body = rest.rstrip("=").rstrip()  # the closing "=" signs, and the space before them, are not the title
    return marks + 1, rest[: max(len(body), 1)]  # = Title = is an h2: the page name is the h1
