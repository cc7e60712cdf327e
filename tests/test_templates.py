"""Templates: the renderer hook and the three adapters (string.Template, Jinja2, Mako)."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from microweb import App, Jinja2Templates, MakoTemplates, StringTemplates, render, session
from microweb.testing import TestClient


def test_render_calls_any_callable_with_name_and_context() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def renderer(name: str, context: dict[str, Any]) -> str:
        calls.append((name, context))
        return f"<{name}>"

    app = App(templates=renderer)
    # `name` is positional-only in render(), so a template may use a variable called name
    app.add_route("/", lambda: render("page.html", name="Ann", n=1), endpoint="v")
    assert app.test_client().get("/").data == b"<page.html>"
    assert calls == [("page.html", {"name": "Ann", "n": 1})]


def test_render_without_renderer_says_what_to_set(app: App, client: TestClient) -> None:
    @app.get("/")
    def view() -> str:
        try:
            return render("x.html")
        except RuntimeError as exc:
            return str(exc)

    assert "App(templates=...)" in client.get("/").get_data(as_text=True)
    with pytest.raises(RuntimeError, match="only available while a request"):
        render("x.html")


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    (tmp_path / "page.txt").write_text("Hello $name, you have $count messages.", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "{% extends 'base.html' %}{% block body %}<p>{{ name }}</p><a href='{{ url_for('hello') }}'>me</a>"
        "{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "base.html").write_text("<main>{% block body %}{% endblock %}</main>", encoding="utf-8")
    (tmp_path / "page.mako").write_text("<p>${name}</p><p>${trusted | n}</p><a href='${url_for(\"hello\")}'>", "utf-8")
    return tmp_path


def test_string_templates_escape_every_value(template_dir: Path) -> None:
    templates = StringTemplates(template_dir)
    out = templates("page.txt", {"name": "<b>Ann & co</b>", "count": 3})
    assert out == "Hello &lt;b&gt;Ann &amp; co&lt;/b&gt;, you have 3 messages."
    assert templates("page.txt", {"name": Markup("<b>Ann</b>"), "count": 0}).startswith("Hello <b>Ann</b>,")
    with pytest.raises(KeyError):
        templates("page.txt", {"name": "x"})


def test_string_templates_refuse_paths_outside_the_folder(template_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        StringTemplates(template_dir / "sub")("../page.txt", {})


def test_string_templates_cache_unless_auto_reload(template_dir: Path) -> None:
    cached, fresh = StringTemplates(template_dir), StringTemplates(template_dir, auto_reload=True)
    context = {"name": "a", "count": 1}
    cached("page.txt", context), fresh("page.txt", context)
    (template_dir / "page.txt").write_text("changed $name", encoding="utf-8")
    assert cached("page.txt", context).startswith("Hello")
    assert fresh("page.txt", context) == "changed a"


def test_jinja2_templates_autoescape_inherit_and_url_for(template_dir: Path) -> None:
    app = App(templates=Jinja2Templates(template_dir))

    @app.get("/hello")
    def hello() -> str:
        return render("page.html", name="<script>")

    body = app.test_client().get("/hello", base_url="http://x/mount").get_data(as_text=True)
    assert body == "<main><p>&lt;script&gt;</p><a href='/mount/hello'>me</a></main>"


def test_jinja2_templates_see_the_session(tmp_path: Path) -> None:
    (tmp_path / "who.html").write_text("{{ session.get('user', 'nobody') }}", encoding="utf-8")
    app = App(secret_key="template-test-key-0123456789", templates=Jinja2Templates(tmp_path))

    @app.get("/who")
    def who() -> str:
        return render("who.html")

    @app.get("/login")
    def login() -> str:
        session["user"] = "ann"
        return "ok"

    client = app.test_client()
    assert client.get("/who").data == b"nobody"
    client.get("/login")
    assert client.get("/who").data == b"ann"


def test_mako_templates_escape_by_default(template_dir: Path) -> None:
    app = App(templates=MakoTemplates(template_dir))

    @app.get("/hello")
    def hello() -> str:
        return render("page.mako", name="<i>x</i>", trusted="<b>ok</b>")

    body = app.test_client().get("/hello").get_data(as_text=True)
    assert body == "<p>&lt;i&gt;x&lt;/i&gt;</p><p><b>ok</b></p><a href='/hello'>"


@pytest.mark.parametrize(
    ("adapter", "module", "extra"), [(Jinja2Templates, "jinja2", "jinja2"), (MakoTemplates, "mako.lookup", "mako")]
)
def test_missing_engine_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, adapter: Any, module: str, extra: str
) -> None:
    real_import = builtins.__import__

    def no_engine(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_engine)
    with pytest.raises(ImportError, match=rf"pip install 'microweb\[{extra}\]'"):
        adapter(tmp_path)
