"""Templates: the renderer hook and the three adapters (string.Template, Jinja2, Mako)."""

from __future__ import annotations

import builtins
import html
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from microweb import App, Jinja2Templates, MakoTemplates, StringTemplates, g, render, session
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


@pytest.mark.parametrize("adapter", [Jinja2Templates, MakoTemplates])
def test_templates_see_g(tmp_path: Path, adapter: Any) -> None:
    (tmp_path / "jinja.html").write_text("{{ g.user }} {{ g.get('missing', 'none') }}", encoding="utf-8")
    (tmp_path / "mako.html").write_text("${g.user} ${g.get('missing', 'none')}", encoding="utf-8")
    app = App(templates=adapter(tmp_path))

    @app.get("/")
    def page() -> str:
        g.user = "<ann>"
        return render("jinja.html" if adapter is Jinja2Templates else "mako.html")

    assert app.test_client().get("/").data == b"&lt;ann&gt; none"


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


MARKUP_NAMES = ["p.html", "p.htm", "p.xml", "p.xhtml", "p.svg", "P.SVG", "p.svg.j2", "p.xhtml.jinja", "p.html.jinja2"]


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=30) | st.sampled_from(["<script>alert(1)</script>", '"/><script>x</script>', "&lt;"]))
def test_every_adapter_escapes_user_input_in_svg_and_xhtml_as_in_html(tmp_path: Path, value: str) -> None:
    # An SVG or XHTML document runs <script> as HTML does: what a template inserts must be escaped there too.
    jinja2_body = '<svg xmlns="http://www.w3.org/2000/svg"><a href="{{ v }}"><text>{{ v }}</text></a></svg>'
    for name in MARKUP_NAMES:
        (tmp_path / name).write_text(jinja2_body, encoding="utf-8")
    (tmp_path / "m.svg").write_text('<svg><a href="${v}"><text>${v}</text></a></svg>', encoding="utf-8")
    (tmp_path / "s.svg").write_text('<svg><a href="$v"><text>$v</text></a></svg>', encoding="utf-8")
    safe = str(escape(value))
    expected = f'<svg xmlns="http://www.w3.org/2000/svg"><a href="{safe}"><text>{safe}</text></a></svg>'
    jinja2 = Jinja2Templates(tmp_path)
    for name in MARKUP_NAMES:
        assert jinja2(name, {"v": value}) == expected, name
    assert jinja2.env.from_string("{{ v }}").render(v=value) == safe
    # Mako and string.Template escape whatever the template's name: nothing to choose there.
    assert MakoTemplates(tmp_path)("m.svg", {"v": value}) == f'<svg><a href="{safe}"><text>{safe}</text></a></svg>'
    stdlib_safe = html.escape(value)  # &quot; where MarkupSafe writes &#34;
    expected_stdlib = f'<svg><a href="{stdlib_safe}"><text>{stdlib_safe}</text></a></svg>'
    assert StringTemplates(tmp_path)("s.svg", {"v": value}) == expected_stdlib


def test_jinja2_templates_of_other_types_are_not_escaped(tmp_path: Path) -> None:
    # What SECURITY.md says: a .txt, .js, .css or .json template inserts values as they are.
    for name in ("mail.txt", "app.js", "data.json", "page.html.txt"):
        (tmp_path / name).write_text("{{ v }}", encoding="utf-8")
        assert Jinja2Templates(tmp_path)(name, {"v": "<b>"}) == "<b>", name
