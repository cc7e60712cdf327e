"""The documentation site: every Python block in ``docs/`` runs as written, and the site builds and renders.

A page's blocks run in order, each in a fresh namespace unless the page's front matter says
``snippets: shared`` (the tutorial, whose steps build on each other). A block written as
``{code-block} LANG`` with ``:caption: some/path`` is a file: it is written to that path in the
page's own working folder (a temporary one, also on ``sys.path``) before the blocks after it run,
and when it is Python it is also run there, as the module the path names.

A block captioned with an absolute path (``:caption: /srv/microweb/httpd.conf``) is a file of the
server machine, on a deployment page: it is not run here, but must be, character for character, the
file a gateway test runs (``tests/gateways/conf/``, rendered with ``DOCS_VALUES``), as
``GATEWAY_FILES`` maps them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from examples_support import need
from examples_support.browser import chromium
from gateways.harness import CONF, DOCS_VALUES, apache_conf, nginx_conf, render_text

from microweb import serving
from microweb.sessions import SessionCookie

from support import in_thread

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)
FENCE = re.compile(r"^(`{3,})([^\s`]*)[ \t]*([^\n]*)\n(.*?)^\1[ \t]*$", re.S | re.M)
#: The fence languages the docs may use: anything else (``py``, ``python3``, ``pycon``) would hide
#: Python from these tests.
LANGUAGES = {"python", "sh", "console", "text", "ini", "nginx", "apache", "html", "jinja", "toml", "json", "http",
             "mako", "css", "cfg", "js", "", "{toctree}", "{eval-rst}", "{include}", "{code-block}", "{image}",
             "{figure}", "{note}", "{warning}", "{tip}", "{literalinclude}"}  # fmt: skip
#: TEMPORARY: pages outside docs/deployment that still hold a ```py block (not run), until their owner
#: turns each into a block that runs; the list may only shrink.
PY_FENCES_LEFT = {"guide/persistence.md", "guide/testing.md"}


@dataclass
class Block:
    """One fenced block of a page."""

    page: Path
    line: int
    language: str
    options: dict[str, str]
    code: str


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with MyST's ``:key: value`` directive options split off."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        language, argument, body = match.group(2), match.group(3).strip(), match.group(4)
        options: dict[str, str] = {}
        if language.startswith("{"):
            while (option := re.match(r"^:(\w[\w-]*):[ \t]*(.*)\n", body)) is not None:
                options[option.group(1)] = option.group(2).strip()
                body = body[option.end() :]
            if language == "{code-block}":
                language = argument
        line = text.count("\n", 0, match.start(4)) + 1
        found.append(Block(page, line, language, options, body))
    return found


def shared(page: Path) -> bool:
    front = re.match(r"^---\n(.*?)\n---\n", page.read_text(encoding="utf-8"), re.S)
    return front is not None and re.search(r"^snippets:\s*shared\s*$", front.group(1), re.M) is not None


def server_file(block: Block) -> bool:
    """A file of the server machine (an absolute caption): checked against the gateway tests' files, not run."""
    return block.options.get("caption", "").startswith("/")


def runnable(page: Path) -> list[Block]:
    return [
        block
        for block in blocks(page)
        if (block.language == "python" or "caption" in block.options) and not server_file(block)
    ]


PYTHON_PAGES = [page for page in PAGES if any(block.language == "python" for block in blocks(page))]


@contextlib.contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    old_cwd, old_path, old_modules = os.getcwd(), list(sys.path), set(sys.modules)
    registries = (serving.SERVERS, serving.OPTION_PARSERS, serving.MAIN_OPTIONS)
    old_registries = [dict(registry) for registry in registries]
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        for name in set(sys.modules) - old_modules:  # the page's own modules: never seen by another page
            del sys.modules[name]
        for registry, old in zip(registries, old_registries, strict=True):
            registry.clear()  # and the servers a page registers neither
            registry.update(old)


def run_block(block: Block, namespace: dict[str, Any], folder: Path) -> None:
    # Blank lines before the code, so a traceback names the page's own line.
    source = "\n" * (block.line - 1) + block.code
    name = "docs_snippet"
    if "caption" in block.options:
        path = folder / block.options["caption"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.code, encoding="utf-8")
        if block.language != "python":
            return
        name = ".".join(path.relative_to(folder).with_suffix("").parts)
        sys.modules.pop(name, None)
        namespace = {}
    namespace.setdefault("__name__", name)
    exec(compile(source, str(block.page), "exec"), namespace)


def test_the_docs_have_python_to_run() -> None:
    assert len(PYTHON_PAGES) >= 20
    assert sum(len(runnable(page)) for page in PAGES) >= 25


def test_the_docs_use_only_known_fence_languages() -> None:
    for page in PAGES:
        allowed = LANGUAGES | ({"py"} if str(page.relative_to(DOCS)) in PY_FENCES_LEFT else set())
        for block in blocks(page):
            assert block.language in allowed, f"{page.relative_to(ROOT)}:{block.line}: ```{block.language}"


def test_the_pages_left_with_py_fences_still_have_one() -> None:
    # So that the exemption above goes as soon as a page is converted.
    for name in PY_FENCES_LEFT:
        assert any(block.language == "py" for block in blocks(DOCS / name)), name


# ---------------------------------------------------------------- the deployment pages' server files

#: Each deployment page, the files it shows (caption: where the file goes) and the gateway test's
#: template each must be: ``a+b`` is the skeleton ``a`` (nginx.conf, apache.conf) around the part ``b``.
GATEWAY_FILES: dict[str, list[tuple[str, str]]] = {
    "deployment/index.md": [("/srv/microweb/app/gwapp.py", "gwapp.py")],
    "deployment/standalone.md": [("/srv/microweb/app/serve.py", "serve-gunicorn.py.in")],
    "deployment/cgi-lighttpd.md": [
        ("/srv/microweb/lighttpd.conf", "lighttpd-cgi.conf"),
        ("/srv/microweb/cgi-bin/app.cgi", "app-lighttpd.cgi"),
        ("/srv/microweb/lighttpd.conf", "lighttpd-cgi-rewrite.conf"),
    ],
    "deployment/cgi-apache.md": [
        ("/srv/microweb/httpd.conf", "apache.conf+apache-cgi.conf"),
        ("/srv/microweb/cgi-bin/app.cgi", "app-apache.cgi"),
    ],
    "deployment/fastcgi-nginx.md": [("/srv/microweb/nginx.conf", "nginx.conf+nginx-fastcgi.conf")],
    "deployment/fastcgi-lighttpd.md": [("/srv/microweb/lighttpd.conf", "lighttpd-fastcgi.conf")],
    "deployment/scgi-nginx.md": [("/srv/microweb/nginx.conf", "nginx.conf+nginx-scgi.conf")],
    "deployment/mod-wsgi.md": [
        ("/srv/microweb/wsgi/app.wsgi", "app.wsgi"),
        ("/srv/microweb/httpd.conf", "apache.conf+apache-mod-wsgi-embedded.conf"),
        ("/srv/microweb/httpd.conf", "apache.conf+apache-mod-wsgi-daemon.conf"),
    ],
    "deployment/mod-python.md": [("/srv/microweb/httpd.conf", "apache.conf+apache-mod-python.conf")],
    "deployment/nginx-gunicorn.md": [("/srv/microweb/nginx.conf", "nginx.conf+nginx-proxy.conf")],
    "deployment/uwsgi.md": [
        ("/srv/microweb/uwsgi.ini", "uwsgi-http.ini"),
        ("/srv/microweb/uwsgi.ini", "uwsgi-socket.ini"),
        ("/srv/microweb/nginx.conf", "nginx.conf+nginx-uwsgi.conf"),
    ],
}
SHOWN = [(page, caption, spec) for page, files in GATEWAY_FILES.items() for caption, spec in files]


def rendered(spec: str) -> str:
    """A gateway test's file as the docs show it: their paths, ports and (placeholder) key."""
    skeleton, _, part = spec.rpartition("+")
    if skeleton == "nginx.conf":
        return nginx_conf(part, **DOCS_VALUES)
    if skeleton == "apache.conf":
        return apache_conf(part, **DOCS_VALUES)
    assert not skeleton, spec
    return render_text(part, **DOCS_VALUES)


@pytest.mark.parametrize(("page", "caption", "spec"), SHOWN, ids=[f"{page}:{spec}" for page, _, spec in SHOWN])
def test_deployment_page_shows_the_file_its_gateway_test_runs(page: str, caption: str, spec: str) -> None:
    expected = rendered(spec)
    shown = [block.code for block in blocks(DOCS / page) if block.options.get("caption") == caption]
    assert expected in shown, f"{page} has no block captioned {caption} that is {spec} rendered with DOCS_VALUES"


def test_every_server_file_in_the_docs_is_a_tested_one() -> None:
    for page in PAGES:
        name = str(page.relative_to(DOCS))
        allowed = [(caption, rendered(spec)) for caption, spec in GATEWAY_FILES.get(name, [])]
        for block in blocks(page):
            if server_file(block):
                assert (block.options["caption"], block.code) in allowed, f"{name}:{block.line}: not a tested file"


def test_the_key_the_pages_show_is_refused() -> None:
    # Whoever copies a config from the docs must not be able to start with the key printed in it.
    with pytest.raises(ValueError, match="placeholder"):
        SessionCookie.check_key(DOCS_VALUES["SECRET_KEY"])


def test_every_gateway_template_is_on_a_page() -> None:
    shown = {part for _, _, spec in SHOWN for part in spec.split("+")}
    assert shown == {path.name for path in CONF.iterdir() if path.is_file()}


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[str(page.relative_to(DOCS)) for page in PYTHON_PAGES])
def test_docs_page_snippets_run(page: Path, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    with working_folder(tmp_path):
        for block in runnable(page):
            run_block(block, namespace if shared(page) else {}, tmp_path)


# ---------------------------------------------------------------- the built site


@functools.cache
def sphinx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("sphinx", "myst_parser", "furo"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(sphinx_available(), "Sphinx, MyST and furo are not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", str(DOCS), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_the_site_builds_with_every_page(site: Path) -> None:
    built = {path.relative_to(site).with_suffix("") for path in site.rglob("*.html")}
    for page in PAGES:
        assert page.relative_to(DOCS).with_suffix("") in built, page
    api = (site / "api.html").read_text(encoding="utf-8")
    for name in ("microweb.App", "microweb.Blueprint", "microweb.Request", "microweb.url_for", "microweb.cors"):
        assert f'id="{name}' in api, name


PAGES_LOOKED_AT = ["index", "tutorial/index", "guide/routing", "api"]


@pytest.mark.slow
def test_the_site_renders_in_chromium_without_console_errors(site: Path) -> None:
    shots = Path(os.environ.get("DOCS_SCREENSHOT_DIR") or site / "_shots")
    shots.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site))
    )
    with in_thread(server) as port, chromium(capabilities={"goog:loggingPrefs": {"browser": "ALL"}}) as browser:
        for name in PAGES_LOOKED_AT:
            browser.get(f"http://127.0.0.1:{port}/{name}.html")
            heading = browser.find_element("css selector", "article h1").text
            assert heading and "microweb" in browser.title, (name, browser.title)
            errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
            assert errors == [], (name, errors)
            png = shots / f"{name.replace('/', '-')}.png"
            assert browser.save_screenshot(str(png))
            assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
