"""The README: short, its Python runs as written, its links work on PyPI, and it points at each part of the manual."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
SNIPPETS = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
DOCS = "https://microweb.readthedocs.io/en/latest/"


def test_the_readme_is_a_door_not_the_manual() -> None:
    assert TEXT.count("\n") <= 200
    assert len(SNIPPETS) == 1


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str) -> None:
    exec(compile(code, str(README), "exec", dont_inherit=True), {"__name__": "readme_snippet"})


def test_the_readme_links_to_each_part_of_the_manual() -> None:
    # Each part of the manual (docs/index.md's toctrees) has its link, to the page the docs build makes.
    for page in ("tutorial/index", "guide/routing", "guide/lifecycle", "deployment/index", "examples", "api",
                 "benchmarks"):  # fmt: skip
        assert f"]({DOCS}{page}.html)" in TEXT, page
        assert (ROOT / "docs" / f"{page}.md").exists(), page
    for name in ("SECURITY.md", "CHANGELOG.md", "CONTRIBUTING.md", "LICENSE"):
        assert f"](https://github.com/microweb/microweb/blob/main/{name})" in TEXT, name
        assert (ROOT / name).exists(), name


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"^```sh\n(.*?)^```", TEXT, re.S | re.M)
    assert first_block is not None and TEXT.index(first_block.group(0)) < TEXT.index("## ")
    commands = first_block.group(1)
    assert "pip install -e . && python examples/hello.py" in commands
    assert re.search(r"pip install -e '\.\[[\w-]+\]' && pytest", commands)


def test_security_md_points_at_tests_that_exist() -> None:
    # SECURITY.md backs each guarantee with test names: a renamed or deleted test must not leave it pointing nowhere.
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
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
