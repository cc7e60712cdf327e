"""What PyPI gets: valid classifiers, filled-in metadata, a long description that renders there, and an
sdist that holds its whole test suite and runs it once installed in a fresh venv."""

from __future__ import annotations

import configparser
import email
import email.message
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gateways.harness import EXTRAS, missing, need_modules

import microweb

ROOT = Path(__file__).resolve().parents[1]
PROJECT_URLS = {"Documentation", "Changelog", "Source", "Issues"}
#: Fast core tests, run from the unpacked sdist with only the ``test`` extra installed (and CI=true,
#: so a package that extra lacks fails): the plugin's entry point and the console script come from the install.
SDIST_TESTS = [
    "tests/test_routing.py",
    "tests/test_ctx.py",
    "tests/test_blueprints.py",
    "tests/test_views.py",
    "tests/test_helpers.py",
    "tests/test_templates.py",
    "tests/test_config.py",
    "tests/test_pytest_plugin.py",
    "tests/test_requests.py",
    "tests/test_responses.py",
    "tests/test_errors.py",
    "tests/test_hooks.py",
    "tests/test_sessions.py",
    "tests/test_static.py",
    "tests/test_examples.py::test_hello",
    "tests/test_examples.py::test_cgi_hello_as_a_cgi_process",
    "tests/test_packaging.py::test_classifiers_are_ones_pypi_knows",
]


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def cfg_list(value: str) -> list[str]:
    """A setup.cfg multi-line value, without blank lines and ``#`` comments."""
    lines = (line.split("  #")[0].strip() for line in value.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def requirement_name(requirement: str) -> str:
    """The normalized distribution name of a requirement line (PEP 503)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


# ---------------------------------------------------------------- setup.cfg


def test_classifiers_are_ones_pypi_knows() -> None:
    need_modules("trove_classifiers")
    from trove_classifiers import classifiers, deprecated_classifiers

    listed = cfg_list(setup_cfg()["metadata"]["classifiers"])
    assert len(listed) >= 10
    assert [c for c in listed if c not in classifiers] == [], "not trove classifiers: PyPI refuses the upload"
    assert [c for c in listed if c in deprecated_classifiers] == []
    assert len(set(listed)) == len(listed)


def test_every_test_extra_is_in_all_tests_and_names_the_packages_the_tests_ask_for() -> None:
    extras = setup_cfg()["options.extras_require"]
    test_extras = {name for name in extras if name == "test" or name.startswith("test-")}
    assert {"test", "test-servers", "test-browser", "test-examples", "test-fuzz"} <= test_extras
    [everything] = cfg_list(extras["all-tests"])
    pulled = set(everything.removeprefix("microweb[").removesuffix("]").split(","))
    assert test_extras <= pulled <= set(extras), f"all-tests must pull every test extra, {sorted(test_extras)}"
    assert "microweb[all-tests]" in cfg_list(extras["dev"])
    for module, (distribution, extra) in EXTRAS.items():
        names = {requirement_name(line) for line in cfg_list(extras[extra])}
        assert requirement_name(distribution) in names, f"{module}: {distribution} is not in the {extra} extra"


# ---------------------------------------------------------------- the long description


def link_problems(markdown: str) -> list[str]:
    """The link and image targets of ``markdown`` that are not absolute https URLs (they break on PyPI).

    Inline links and images, reference definitions and HTML ``href``/``src``; code is left out.
    """
    prose = re.sub(r"^(```|~~~).*?^\1", "", markdown, flags=re.S | re.M)
    prose = re.sub(r"(`+).+?\1", "", prose, flags=re.S)
    targets = re.findall(r"\]\(\s*<?([^)\s>]*)", prose)
    targets += re.findall(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)", prose, flags=re.M)
    targets += re.findall(r"""\b(?:href|src)\s*=\s*["']([^"']*)""", prose, flags=re.I)
    return [target for target in targets if not target.startswith("https://")]


def test_link_problems_finds_every_kind_of_relative_link() -> None:
    text = (
        "See [the docs](docs/index.md), ![chart](chart.png) and [up](#top).\n"
        "[ref]: SECURITY.md\n"
        '<img src="logo.svg"> <a href="http://example.com/">plain http</a>\n'
        "Fine: [home](https://example.com/a_(b)) and `[not](a link)`.\n"
        "```python\nhandlers[name](x)\n```\n"
    )
    assert link_problems(text) == ["docs/index.md", "chart.png", "#top", "SECURITY.md", "logo.svg", "http://example.com/"]


def test_the_long_description_links_only_absolute_https_urls() -> None:
    readme = ROOT / setup_cfg()["metadata"]["long_description"].removeprefix("file:").strip()
    assert link_problems(readme.read_text(encoding="utf-8")) == [], f"{readme.name}: use https:// URLs on PyPI"


def test_the_changelog_starts_with_this_version_in_keep_a_changelog_form() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}|Unreleased))?$", text, re.M)
    assert releases and releases[0][0] == microweb.__version__, "CHANGELOG.md: a heading for microweb.__version__"
    assert len(releases) == len(re.findall(r"^## ", text, re.M)), "every ## heading is [X.Y.Z] - YYYY-MM-DD"
    for version, _ in releases:
        assert version == "Unreleased" or re.fullmatch(r"\d+\.\d+\.\d+", version), version
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, re.M), f"no link for [{version}]"
    sections = set(re.findall(r"^### (.+)$", text, re.M))
    assert sections and sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, sections
    assert link_problems(text) == []


# ---------------------------------------------------------------- the built sdist and wheel


@dataclass
class Dists:
    sdist: Path
    wheel: Path


def _source_files() -> list[str]:
    """The files an sdist is built from: git's tracked and unignored ones, or (in an unpacked sdist) all."""
    if (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout.decode().split("\0")  # fmt: skip
        return sorted(name for name in listed if name and (ROOT / name).is_file())
    skip = {"build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    return sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*")
        if path.is_file() and not skip & set(path.relative_to(ROOT).parts) and ".egg-info" not in str(path)
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist, and the wheel built from it, by ``python -m build`` with this venv's setuptools (offline)."""
    need_modules("build", "twine")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in _source_files():  # a copy: the build writes microweb.egg-info next to the sources
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    argv = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [sdist], [wheel] = out.glob("*.tar.gz"), out.glob("*.whl")
    return Dists(sdist, wheel)


def _metadata(dists: Dists) -> Iterator[email.message.Message]:
    with tarfile.open(dists.sdist) as sdist:
        member = sdist.extractfile(f"{dists.sdist.name.removesuffix('.tar.gz')}/PKG-INFO")
        assert member is not None
        yield email.message_from_bytes(member.read())
    with zipfile.ZipFile(dists.wheel) as wheel:
        [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        yield email.message_from_bytes(wheel.read(name))


@pytest.mark.slow
def test_twine_check_strict_passes_on_the_sdist_and_the_wheel(dists: Dists) -> None:
    argv = [sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


@pytest.mark.slow
def test_the_metadata_names_home_author_and_project_urls(dists: Dists) -> None:
    classifiers = cfg_list(setup_cfg()["metadata"]["classifiers"])
    for metadata in _metadata(dists):
        assert metadata["Name"] == "microweb" and metadata["Version"] == microweb.__version__
        assert metadata["Author"] == "The microweb developers"
        urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL", []))
        home = metadata["Home-page"] or urls.get("Homepage")
        assert PROJECT_URLS <= set(urls) and home, metadata.items()
        assert all(url.startswith("https://") for url in [home, *urls.values()])
        assert metadata.get_all("Classifier") == classifiers
        assert metadata["Description-Content-Type"] == "text/markdown"
        assert "all-tests" in metadata.get_all("Provides-Extra", [])


@pytest.mark.slow
def test_the_sdist_holds_every_source_file_and_the_wheel_only_the_package(dists: Dists) -> None:
    if not (ROOT / ".git").exists():
        missing("not a git checkout: the sdist's contents are checked against git's tracked files")
    prefix = dists.sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(dists.sdist) as sdist:
        shipped = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()}
    tracked = set(_source_files())
    assert sorted(tracked - shipped) == [".gitignore"]
    for folder in ("tests/gateways/", "tests/support/", "tests/examples_support/", "tests/load/", "examples/wiki/"):
        assert any(name.startswith(folder) for name in shipped), folder
    assert not [n for n in shipped if "__pycache__" in n or n.startswith("docs/_build/") or n.endswith(".sqlite3")]
    with zipfile.ZipFile(dists.wheel) as wheel:
        outside = [n for n in wheel.namelist() if not n.startswith(("microweb/", "microweb-"))]
    assert outside == []


@pytest.mark.slow
def test_the_sdist_installed_in_a_fresh_venv_runs_its_own_tests(dists: Dists, tmp_path: Path) -> None:
    with tarfile.open(dists.sdist) as sdist:
        sdist.extractall(tmp_path, filter="data")
    [tree] = tmp_path.iterdir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"{dists.sdist}[test]"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip install of the sdist (from PyPI) failed: {done.stderr[-3000:]}"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS")}
    env.update(CI="true", PATH=f"{venv / 'bin'}:{env['PATH']}", PYTHONDONTWRITEBYTECODE="1")
    version = subprocess.run([str(venv / "bin/microweb"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith(f"microweb {microweb.__version__} ("), version.stderr
    argv = [str(venv / "bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *SDIST_TESTS]
    run = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=600)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 500 and "skipped" not in summary, summary
