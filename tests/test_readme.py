"""The README's ``python`` snippets run as written, so the manual cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 10


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str) -> None:
    exec(compile(code, str(README), "exec", dont_inherit=True), {"__name__": "readme_snippet"})


def test_security_md_points_at_tests_that_exist() -> None:
    # SECURITY.md backs each guarantee with test names: a renamed or deleted test must not leave it pointing nowhere.
    text = (README.parent / "SECURITY.md").read_text(encoding="utf-8")
    tests_dir = Path(__file__).resolve().parent
    current = ""
    named: list[tuple[str, str]] = []
    for file, name in re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?`", text):
        current = file or current
        assert current, f"::{name} before any file name"
        named.append((current, name))
    assert len(named) >= 40
    for file, name in named:
        source = (tests_dir / file).read_text(encoding="utf-8")
        assert not name or re.search(rf"^def {name}\(", source, re.M), f"{file}::{name} does not exist"
    assert re.search(r"\[SECURITY\.md\]\(https://\S+/SECURITY\.md\)", README.read_text(encoding="utf-8"))
