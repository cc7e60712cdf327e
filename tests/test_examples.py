"""The small examples, in process: hello, cgi_hello, fastcgi_env, guestbook, embed, and the persistence recipes."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from examples_support import EXAMPLES, load_example
from gateways.harness import need_modules
from werkzeug.test import Client

# ---------------------------------------------------------------- hello


def test_hello() -> None:
    app = load_example("hello").app
    client = app.test_client()
    assert client.get("/").data == b"<h1>Hello, world!</h1>"
    assert client.get("/?name=Ann").data == b"<h1>Hello, Ann!</h1>"
    assert client.get("/?name=<script>").data == b"<h1>Hello!</h1>"
    assert client.get("/hello/Bo").json == {"greeting": "Hello, Bo!"}


# ---------------------------------------------------------------- cgi_hello


def run_cgi(script: Path, path: str, debug: bool = False) -> tuple[str, str]:
    """Run a CGI script the way a web server does: the request in the environment, the answer on stdout."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/hello",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_URI": "/hello" + path,
    }
    if debug:
        env["CGI_HELLO_DEBUG"] = "1"
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode(), done.stderr.decode()  # decoded by hand: text mode would eat the \r of \r\n


@pytest.mark.slow
def test_cgi_hello_as_a_cgi_process() -> None:
    out, _ = run_cgi(EXAMPLES / "cgi_hello.py", "/")
    head, _, body = out.partition("\r\n\r\n")
    assert head.startswith("Status: 200 OK")
    assert "Content-Type: text/plain; charset=utf-8" in head
    assert body == "Hello World!\n"


@pytest.mark.slow
def test_cgi_hello_hides_tracebacks_unless_debugging() -> None:
    out, err = run_cgi(EXAMPLES / "cgi_hello.py", "/error")
    assert out.startswith("Status: 500")
    assert "hunter2" not in out and "Traceback" not in out
    assert "Traceback" in err and "hunter2" in err  # the web server's error log gets the details
    out, _ = run_cgi(EXAMPLES / "cgi_hello.py", "/error", debug=True)
    assert out.startswith("Status: 500")
    assert "Traceback" in out and "hunter2" in out


def test_cgi_hello_in_process() -> None:
    client = load_example("cgi_hello").app.test_client()
    reply = client.get("/")
    assert reply.data == b"Hello World!\n" and reply.mimetype == "text/plain"
    assert client.get("/error").status_code == 500


# ---------------------------------------------------------------- fastcgi_env


def test_fastcgi_env_lists_every_key_escaped() -> None:
    client = load_example("fastcgi_env").app.test_client()
    page = client.get("/?x=1", headers={"X-Evil": "<script>alert(1)</script>"}).get_data(as_text=True)
    assert "<h1>FastCGI Environment</h1>" in page
    assert "<tr><th>HTTP_X_EVIL</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td></tr>" in page
    assert "<script>" not in page
    assert "<tr><th>QUERY_STRING</th><td>x=1</td></tr>" in page
    keys = [line.split("</th>")[0][8:] for line in page.splitlines() if line.startswith("<tr><th>")]
    assert keys == sorted(keys) and "REQUEST_METHOD" in keys and "wsgi.input" in keys


# ---------------------------------------------------------------- guestbook


@pytest.fixture
def guestbook(tmp_path: Path) -> Any:
    module = load_example("guestbook")
    module.app.config["DATABASE"] = str(tmp_path / "guestbook.sqlite3")
    return module


def test_guestbook_posts_and_lists_newest_first(guestbook: Any) -> None:
    client = guestbook.app.test_client()
    assert "No messages yet" in client.get("/").get_data(as_text=True)
    first = client.post("/", data={"name": "Ann", "text": "first!"})
    assert first.status_code == 303 and first.headers["Location"] == "/"
    client.post("/", data={"name": "Bob", "text": "second <b>bold</b>"})
    page = client.get("/").get_data(as_text=True)
    assert "2 messages" in page
    assert page.index("second") < page.index("first!")
    assert "second &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_guestbook_shows_errors_next_to_the_form(guestbook: Any) -> None:
    client = guestbook.app.test_client()
    reply = client.post("/", data={"name": "", "text": "kept <as typed>"})
    assert reply.status_code == 400
    page = reply.get_data(as_text=True)
    assert '<span class="error" id="name-error">Please give a name.</span>' in page
    assert '<span class="error" id="text-error"></span>' in page
    assert "kept &lt;as typed&gt;</textarea>" in page  # what was typed comes back, escaped
    reply = client.post("/", data={"name": "x" * 41, "text": ""})
    page = reply.get_data(as_text=True)
    assert "At most 40 characters" in page and "The message is empty." in page
    assert "0 messages" in client.get("/").get_data(as_text=True)


def test_guestbook_stores_in_a_real_sqlite_file(guestbook: Any) -> None:
    guestbook.app.test_client().post("/", data={"name": "Ann", "text": "hi"})
    with closing(sqlite3.connect(guestbook.app.config["DATABASE"])) as conn:
        assert conn.execute("SELECT name, text FROM messages").fetchall() == [("Ann", "hi")]


# ---------------------------------------------------------------- embed


@pytest.fixture
def site() -> Client:
    return Client(load_example("embed").make_site())


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_embed_outer_app_and_mount(site: Client) -> None:
    assert b"The site" in site.get("/").data
    assert site.get("/elsewhere").status_code == 404
    reply = site.get("/api/", headers=basic("demo", "demo"))
    assert reply.json == {"user": "demo", "self": "/api/", "items": "/api/items"}  # url_for knows the mount
    assert site.get("/api/items/3", headers=basic("demo", "demo")).json["url"] == "/api/items/3"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("demo", "wrong"),
        basic("eve", "demo"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {"Authorization": "Bearer demo"},
    ],
)
def test_embed_api_needs_credentials(site: Client, headers: dict[str, str]) -> None:
    reply = site.get("/api/items", headers=headers)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith('Basic realm="microweb API"')


def test_embed_gzip(site: Client) -> None:
    auth = basic("demo", "demo")
    plain = site.get("/api/items", headers=auth)
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    packed = site.get("/api/items", headers={**auth, "Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert json.loads(gzip.decompress(packed.data)) == plain.json
    # Small bodies and HEAD requests stay as they are.
    small = site.get("/api/items/1", headers={**auth, "Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers and small.json["id"] == 1
    head = site.head("/api/items", headers={**auth, "Accept-Encoding": "gzip"})
    assert head.data == b""


def test_embed_gzip_leaves_bodiless_and_binary_responses_alone() -> None:
    gzip_mw = load_example("embed").Gzip

    def app(environ: Any, start_response: Any) -> list[bytes]:
        status, ctype = {"/empty": ("304 Not Modified", None), "/png": ("200 OK", "image/png")}[environ["PATH_INFO"]]
        start_response(status, [("Content-Type", ctype)] if ctype else [])
        return [b"" if ctype is None else b"\x89PNG" * 100]

    client = Client(gzip_mw(app))
    assert client.get("/empty", headers={"Accept-Encoding": "gzip"}).status_code == 304
    png = client.get("/png", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in png.headers and png.data == b"\x89PNG" * 100


# ---------------------------------------------------------------- flat-file store


def test_flatfile_notes_saved_as_json(tmp_path: Path) -> None:
    client = load_example("flatfile_notes").create_app(tmp_path).test_client()
    assert client.post("/notes", data={"text": "buy milk"}).status_code == 201
    assert client.post("/notes", data={"text": "café ☕"}).json == {"saved": "café ☕", "count": 2}
    assert client.get("/notes").json == ["buy milk", "café ☕"]
    assert json.loads((tmp_path / "notes.json").read_text("utf-8")) == {"notes": ["buy milk", "café ☕"]}


def test_flatfile_failed_request_writes_nothing(tmp_path: Path) -> None:
    client = load_example("flatfile_notes").create_app(tmp_path).test_client()
    client.post("/notes", data={"text": "kept"})
    before = (tmp_path / "notes.json").read_bytes()
    assert client.post("/notes", data={"text": "   "}).status_code == 400
    assert (tmp_path / "notes.json").read_bytes() == before
    assert client.get("/notes").json == ["kept"]


def test_flatfile_crash_while_writing_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_example("flatfile_notes")
    client = module.create_app(tmp_path).test_client()
    client.post("/notes", data={"text": "kept"})
    before = (tmp_path / "notes.json").read_bytes()

    def dump_half_then_crash(data: Any, fh: Any, **kwargs: Any) -> None:
        fh.write('{"notes": ["kept", "half')  # the process "dies" in the middle of writing
        raise OSError("disk full")

    monkeypatch.setattr(module.json, "dump", dump_half_then_crash)
    assert client.post("/notes", data={"text": "lost"}).status_code == 500
    assert (tmp_path / "notes.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json", "notes.lock"]  # no temp file left


def test_flatfile_lock_serialises_concurrent_requests(tmp_path: Path) -> None:
    app = load_example("flatfile_notes").create_app(tmp_path)
    errors: list[int] = []

    def post(n: int) -> None:
        status = app.test_client().post("/notes", data={"text": f"note {n}"}).status_code
        if status != 201:
            errors.append(status)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(app.test_client().get("/notes").json) == sorted(f"note {n}" for n in range(20))


# ---------------------------------------------------------------- ZODB


@pytest.fixture
def zodb_app(tmp_path: Path) -> Any:
    need_modules("ZODB")
    app = load_example("zodb_notes").create_app(str(tmp_path / "notes.fs"))
    yield app
    app.config["ZODB"].close()


def test_zodb_notes_commit_per_request(zodb_app: Any, tmp_path: Path) -> None:
    client = zodb_app.test_client()
    assert client.post("/notes", data={"text": "first"}).json == {"id": 0, "text": "first"}
    assert client.post("/notes/0/like").json == {"id": 0, "likes": 1}
    assert client.get("/notes").json == [{"id": 0, "text": "first", "likes": 1}]
    # Reopen the file: what was committed is on disk.
    zodb_app.config["ZODB"].close()
    again = load_example("zodb_notes").create_app(str(tmp_path / "notes.fs"))
    try:
        assert again.test_client().get("/notes").json == [{"id": 0, "text": "first", "likes": 1}]
    finally:
        again.config["ZODB"].close()
    zodb_app.config["ZODB"] = again.config["ZODB"]  # the fixture closes this one (closing twice is fine)


def test_zodb_failed_request_is_aborted(zodb_app: Any) -> None:
    client = zodb_app.test_client()
    client.post("/notes", data={"text": "kept"})
    assert client.post("/notes", data={"text": ""}).status_code == 400
    assert client.post("/notes/7/like").status_code == 404
    assert client.get("/notes").json == [{"id": 0, "text": "kept", "likes": 0}]


# ---------------------------------------------------------------- the docs' Examples page


def examples_page() -> str:
    return (EXAMPLES.parent / "docs" / "examples.md").read_text(encoding="utf-8")


def test_examples_page_commands_name_real_examples() -> None:
    commands = re.findall(r"\bpython (examples/\S+)", examples_page())
    assert len(commands) >= 8
    for path in commands:
        assert (EXAMPLES.parent / path).exists(), path


def test_examples_page_shows_the_nginx_config_the_scaling_test_runs() -> None:
    template = (Path(__file__).parent / "examples_support/conf/nginx-wiki-upstream.conf").read_text()
    for name, value in {"G": "/srv/wiki", "PORT": "8080", "APP1_PORT": "8001", "APP2_PORT": "8002"}.items():
        template = template.replace(f"@@{name}@@", value)
    assert f"```nginx\n{template}```" in examples_page()
