"""The wiki's markup: headings parsed as before but in linear time, and no rule slow on a hostile page.

A page of MAX_TEXT characters built to make a regex backtrack must render in well
under a second. The test does not time it (the machine may be busy): it renders
every such page in a child process limited to 20 s of CPU (RLIMIT_CPU), where the
old heading regex alone needed about 40 s for one page.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from examples_support import EXAMPLES, import_wiki
from gateways.harness import need_modules
from hypothesis import given
from hypothesis import strategies as st

need_modules("sqlalchemy")
markup = import_wiki().markup
# The heading rule as it was: the reference for what a heading is, too slow for long lines.
OLD_HEADING = re.compile(r"(={1,3})\s*(.+?)\s*=*")
CPU_SECONDS = 20


def old_heading(line: str) -> tuple[int, str] | None:
    found = OLD_HEADING.fullmatch(line)
    return (len(found.group(1)) + 1, found.group(2)) if found else None


@given(st.text(alphabet=st.sampled_from("= \t\u3000\u2028ab*`_"), max_size=14) | st.text(max_size=10))
def test_headings_are_what_the_old_regex_found(text: str) -> None:
    line = text.strip()
    assert markup._heading(line) == old_heading(line)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("= Title =", "<h2>Title</h2>"),
        ("== Section", "<h3>Section</h3>"),
        ("=== *Deep* ===   ", "<h4><strong>Deep</strong></h4>"),
        ("==== four", "<h4>= four</h4>"),
        ("==", "<h2>=</h2>"),
        ("=", "<p>=</p>"),
        ("= a =\nmore", "<p>= a =<br>\nmore</p>"),
    ],
)
def test_heading_examples(text: str, html: str) -> None:
    assert str(markup.to_html(text, set(), lambda name: "/" + name)) == html


def test_wiki_words_are_read_line_by_line_as_the_page_is_rendered() -> None:
    # A code span cannot cross lines when rendered, so a WikiWord between two backticks on different lines
    # is a link, and must be looked up as one (else it is marked missing although the page exists).
    text = "`a\nSandBox\nb`"
    assert markup.wiki_words(text) == {"SandBox"}
    assert '<a href="/SandBox">SandBox</a>' in markup.to_html(text, {"SandBox"}, lambda name: "/" + name)


# Each rule's hostile shapes, then random mixtures of the markup's tokens; every page MAX_TEXT long.
CHILD = textwrap.dedent(
    """
    import random, resource, sys
    cpu_seconds = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))  # then SIGXCPU ends the process
    sys.path.insert(0, sys.argv[1])
    from wiki import markup, pages

    N = pages.MAX_TEXT

    def fill(motif, prefix="", suffix=""):
        body = (motif * (N // len(motif) + 1))[: N - len(prefix) - len(suffix)]
        return prefix + body + suffix

    PAGES = {
        "heading =a===b": fill("=", "=a", "b"),
        "heading = a   b": fill(" ", "= a", "b"),
        "heading = a = = b": fill(" =", "= a", "b"),
        "heading === = = =": fill("= ", "==="),
        "link dots": fill(".", "http://"),
        "link repeated": fill("https://"),
        "link parens": fill(")", "http://a"),
        "link slashes": fill("/http:/"),
        "wikiword underscore": fill("Ab", "", "_"),
        "wikiword long tail": fill("b", "A", "\\u00e9"),
        "wikiword bangs": fill("!Ab"),
        "wikiword digits": fill("Ab1", "", "_"),
        "bold stars": fill("*"),
        "bold open": fill("*a"),
        "bold unclosed": fill("a", "*"),
        "italic underscores": fill("_"),
        "italic spaced": fill(" _a"),
        "italic word after": fill("_a_b"),
        "code ticks": fill("`"),
        "code open": fill("`a"),
        "code unclosed": fill("a", "`"),
        "code across lines": fill("a\\n", "`"),
        "list dashes": fill("- "),
        "list items": fill("- a\\n"),
        "list emphasis": fill("*a", "- "),
        "rules": fill("----\\n\\n"),
        "blank lines": fill("\\n"),
        "blank spaced": fill("\\n "),
        "one newline then spaces": fill(" ", "a\\n", "\\nb"),
        "whitespace run": fill(" \\t", "\\n"),
        "mixed": fill("=*_`!Ab http:// -\\n"),
    }
    tokens = ["=", "*", "_", "`", "!", "- ", " ", "\\n", "A", "b", "http://", ".", ")", "\\u00e9", "----", "\\t"]
    rng = random.Random(14)
    for i in range(30):
        PAGES[f"random {i}"] = fill("".join(rng.choice(tokens) for _ in range(rng.randint(1, 5))))
    for name, page in PAGES.items():
        print(name, flush=True)  # the last name printed is the page that ran out of time
        assert len(page) == N
        markup.to_html(page, markup.wiki_words(page), lambda word: "/" + word)  # what a view of it does
    print("done", len(PAGES), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_CPU is POSIX")
def test_hostile_pages_of_max_text_characters_render_in_linear_time() -> None:
    # CPU time, not wall time: a busy machine slows the child down but does not use up its CPU allowance.
    # The 61 pages need under 2 s of it here; the old heading rule needed 23 s for the first page alone,
    # and more than two minutes for the second.
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(EXAMPLES), str(CPU_SECONDS)],
        capture_output=True,
        text=True,
        timeout=300,  # only if the machine all but stopped: the CPU limit ends a slow child long before
    )
    printed = child.stdout.split("\n")
    assert child.returncode == 0, (
        f"{printed[-2]!r} took more than {CPU_SECONDS} s of CPU (status {child.returncode}): "
        f"a markup rule is not linear; {child.stderr[-2000:]}"
    )
    assert printed[-2] == "done 61"
