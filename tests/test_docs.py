"""The documentation site: every Python block in ``docs/`` runs as written, and the site builds and renders.

A page's blocks run in order, each in a fresh namespace unless the page's front matter says
``snippets: shared`` (the tutorial, whose steps build on each other). A block written as
``{code-block} LANG`` with ``:caption: some/path`` is a file: it is written to that path in the
page's own working folder (a temporary one, also on ``sys.path``) before the blocks after it run,
and when it is Python it is also run there, as the module the path names (``pkg/__init__.py``:
the package ``pkg``). A ``{code-block} sh`` with ``:class: run`` runs in that folder with ``sh -e``
(the tests' Python first on ``PATH``): for moving files and running ``python -m pytest``, never
for servers. Whenever a file is written or a shell block has run, the modules imported from the
folder are forgotten, as if Python had been restarted.

A page whose front matter says ``follows: other.md`` (a path from the page) starts where that page
ends: its blocks run after those of the pages it follows, in the same folder (and, if shared, the
same namespace). Environment variables a page sets are undone when it ends.

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
from types import ModuleType
from typing import Any

import pytest
from examples_support.browser import chromium
from gateways.harness import CONF, DOCS_VALUES, apache_conf, need_modules, nginx_conf, render_text

import microweb
from microweb import cors, csrf, serving, testing
from microweb.sessions import SessionCookie

from support import in_thread

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)
FENCE = re.compile(r"^(`{3,})([^\s`]*)[ \t]*([^\n]*)\n(.*?)^\1[ \t]*$", re.S | re.M)
#: The fence languages the docs may use: anything else (``py``, ``python3``, ``pycon``) would hide
#: Python from these tests.
LANGUAGES = {"python", "sh", "console", "text", "ini", "nginx", "apache", "html", "jinja", "toml", "json", "http",
             "html+jinja", "sql", "mako", "css", "cfg", "js", "", "{toctree}", "{eval-rst}", "{include}",
             "{code-block}", "{image}", "{figure}", "{note}", "{warning}", "{tip}", "{literalinclude}"}  # fmt: skip


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
            body = body.lstrip("\n")  # the blank line after the options, as Sphinx drops it
            if language == "{code-block}":
                language = argument
        line = text.count("\n", 0, match.end(4) - len(body)) + 1
        found.append(Block(page, line, language, options, body))
    return found


def front_matter(page: Path, key: str) -> str | None:
    """The value of ``key`` in the page's front matter, or None."""
    front = re.match(r"^---\n(.*?)\n---\n", page.read_text(encoding="utf-8"), re.S)
    found = front and re.search(rf"^{key}:[ \t]*(\S.*?)[ \t]*$", front.group(1), re.M)
    return found.group(1) if found else None


def shared(page: Path) -> bool:
    return front_matter(page, "snippets") == "shared"


def chain(page: Path) -> list[Path]:
    """The pages whose blocks run for ``page``: those it follows, first to last, then itself."""
    pages = [page]
    while (follows := front_matter(pages[0], "follows")) is not None:
        previous = (pages[0].parent / follows).resolve()
        assert previous.is_file() and previous not in pages, f"{pages[0].relative_to(ROOT)}: follows: {follows}"
        pages.insert(0, previous)
    return pages


def shell(block: Block) -> bool:
    return block.language == "sh" and "run" in block.options.get("class", "").split()


def server_file(block: Block) -> bool:
    """A file of the server machine (an absolute caption): checked against the gateway tests' files, not run."""
    return block.options.get("caption", "").startswith("/")


def runnable(page: Path) -> list[Block]:
    return [
        block
        for block in blocks(page)
        if (block.language == "python" or "caption" in block.options or shell(block)) and not server_file(block)
    ]


PYTHON_PAGES = [page for page in PAGES if any(block.language == "python" for block in blocks(page))]


@contextlib.contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    old_cwd, old_path, old_modules, old_environ = os.getcwd(), list(sys.path), set(sys.modules), dict(os.environ)
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
        os.environ.clear()
        os.environ.update(old_environ)
        for registry, old in zip(registries, old_registries, strict=True):
            registry.clear()  # and the servers a page registers neither
            registry.update(old)


def forget_modules(folder: Path) -> None:
    """Drop the modules imported from ``folder``: the next import reads the files as they are now."""
    for name, module in list(sys.modules.items()):
        places = [getattr(module, "__file__", None) or "", *(getattr(module, "__path__", None) or ())]
        if any(place and Path(place).is_relative_to(folder) for place in places):
            del sys.modules[name]


def run_shell(block: Block, folder: Path) -> None:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run(
        ["sh", "-e", "-c", block.code], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{block.page.relative_to(ROOT)}:{block.line}:\n{done.stdout}{done.stderr}"


def run_block(block: Block, namespace: dict[str, Any], folder: Path) -> None:
    if shell(block):
        run_shell(block, folder)
        forget_modules(folder)
        return
    # Blank lines before the code, so a traceback names the page's own line.
    source = "\n" * (block.line - 1) + block.code
    if "caption" in block.options:
        path = folder / block.options["caption"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.code, encoding="utf-8")
        forget_modules(folder)
        if block.language != "python":
            return
        parts = path.relative_to(folder).with_suffix("").parts
        package = parts[:-1] if parts[-1] == "__init__" else parts
        name = ".".join(package)
        namespace = {"__name__": name, "__file__": str(path), "__package__": ".".join(parts[:-1])}
    namespace.setdefault("__name__", "docs_snippet")
    # dont_inherit: this file's own `from __future__ import annotations` must not change how the snippet runs.
    exec(compile(source, str(block.page), "exec", dont_inherit=True), namespace)


def test_the_docs_have_python_to_run() -> None:
    assert len(PYTHON_PAGES) >= 29
    assert sum(len(runnable(page)) for page in PAGES) >= 70


def test_the_tutorial_steps_build_on_each_other_in_the_order_of_its_contents() -> None:
    index = DOCS / "tutorial" / "index.md"
    toctree = next(block for block in blocks(index) if block.language == "{toctree}")
    steps = [DOCS / "tutorial" / f"{name}.md" for name in toctree.code.split() if not name.startswith(":")]
    assert chain(steps[-1]) == steps
    assert all(shared(step) for step in steps)


def test_the_docs_use_only_known_fence_languages() -> None:
    for page in PAGES:
        for block in blocks(page):
            assert block.language in LANGUAGES, f"{page.relative_to(ROOT)}:{block.line}: ```{block.language}"


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
        for step in chain(page):
            for block in runnable(step):
                run_block(block, namespace if shared(step) else {}, tmp_path)


# ---------------------------------------------------------------- the built site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_modules("sphinx", "myst_parser", "furo")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", str(DOCS), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _public(module: ModuleType, name: str) -> bool:
    """A public function or class defined in ``module`` itself (not one it imports)."""
    value = getattr(module, name)
    return not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_the_site_builds_with_every_page(site: Path) -> None:
    built = {path.relative_to(site).with_suffix("") for path in site.rglob("*.html")}
    for page in PAGES:
        assert page.relative_to(DOCS).with_suffix("") in built, page
    api = (site / "api.html").read_text(encoding="utf-8")
    public = [f"microweb.{name}" for name in microweb.__all__]
    for module in (csrf, cors, serving, testing):
        public += [f"{module.__name__}.{name}" for name in vars(module) if _public(module, name)]
    assert len(public) >= 40
    missing = [name for name in public if f'id="{name}"' not in api]
    assert missing == [], "not in the API reference: " + ", ".join(missing)


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


def test_the_wiki_pictures_are_the_ones_its_browser_test_takes() -> None:
    # examples.md shows the wiki's screenshots: each must be one the browser test takes (SCREENSHOT_DIR).
    taken = re.findall(r'ui\.shot\("([\w-]+)"\)', (ROOT / "tests/test_examples_browser.py").read_text(encoding="utf-8"))
    shown = re.findall(r"_static/wiki/(\d\d)-([\w-]+)\.png", (DOCS / "examples.md").read_text(encoding="utf-8"))
    assert len(shown) >= 3
    for number, name in shown:
        assert taken.index(name) + 1 == int(number), name
        assert (DOCS / f"_static/wiki/{number}-{name}.png").read_bytes().startswith(b"\x89PNG")
