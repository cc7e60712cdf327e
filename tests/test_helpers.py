"""What views call: flashed messages (shown once, after one redirect) and files (send_file, send_from_directory)."""

from __future__ import annotations

import io
import os
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microweb import (
    App,
    Jinja2Templates,
    Response,
    flash,
    get_flashed_messages,
    redirect,
    send_file,
    send_from_directory,
    session,
)
from microweb.testing import TestClient

from support import SECRET, live_server, raw_request, validated_client

# ---------------------------------------------------------------- flash


@pytest.fixture
def flashing(app: App) -> App:
    @app.post("/save")
    def save() -> Response:
        flash("Saved.")
        flash("Disk almost full.", "warning")
        flash("Check the date.", "error")
        return redirect("/")

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"messages": get_flashed_messages(with_categories=True)}

    @app.get("/plain")
    def plain() -> dict[str, Any]:
        return {"messages": get_flashed_messages()}

    @app.get("/hop")
    def hop() -> Response:
        return redirect("/")

    return app


def test_a_message_is_shown_once_after_the_redirect_in_order(flashing: App, client: TestClient) -> None:
    response = client.post("/save")
    assert response.status_code == 302 and "Set-Cookie" in response.headers
    shown = client.get("/")
    assert shown.json == {
        "messages": [["message", "Saved."], ["warning", "Disk almost full."], ["error", "Check the date."]]
    }
    assert client.get("/").json == {"messages": []}  # shown once


def test_a_message_waits_through_pages_that_do_not_show_messages(flashing: App, client: TestClient) -> None:
    client.post("/save")
    assert client.get("/hop", follow_redirects=True).json["messages"][0] == ["message", "Saved."]
    assert client.get("/plain").json == {"messages": []}


def test_without_categories_the_messages_alone(flashing: App, client: TestClient) -> None:
    client.post("/save")
    assert client.get("/plain").json == {"messages": ["Saved.", "Disk almost full.", "Check the date."]}


def test_category_filter_and_every_call_in_a_request_sees_the_same(app: App, client: TestClient) -> None:
    @app.post("/save")
    def save() -> str:
        flash("a")
        flash("b", "error")
        flash("c", "err")  # within "error" as text: a filter of "error" must not take it
        return "ok"

    @app.get("/")
    def index() -> dict[str, Any]:
        return {
            "errors": get_flashed_messages(category_filter=["error"]),
            "one": get_flashed_messages(category_filter="error"),  # one category, not its letters
            "all": get_flashed_messages(with_categories=True),
            "again": get_flashed_messages(),
        }

    client.post("/save")
    assert client.get("/").json == {
        "errors": ["b"],
        "one": ["b"],
        "all": [["message", "a"], ["error", "b"], ["err", "c"]],
        "again": ["a", "b", "c"],
    }
    assert client.get("/").json == {"errors": [], "one": [], "all": [], "again": []}


def test_messages_are_only_removed_from_the_session_when_there_were_some(flashing: App, client: TestClient) -> None:
    @flashing.post("/login")
    def login() -> str:
        session["user"] = "ann"
        return "ok"

    client.post("/login")
    response = client.get("/")
    assert response.json == {"messages": []} and "Set-Cookie" not in response.headers
    client.post("/save")
    emptied = client.get("/")
    assert "Set-Cookie" in emptied.headers  # the messages left the cookie
    assert client.get("/").json == {"messages": []}


def test_flash_without_a_secret_key_says_what_to_do() -> None:
    app = App()

    @app.post("/save")
    def save() -> str:
        flash("Saved.")
        return "ok"

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"messages": get_flashed_messages()}

    with _ctx(app):
        with pytest.raises(RuntimeError, match=r"flash\(\) keeps messages in the session, which needs a secret key"):
            flash("Saved.")
    assert validated_client(app).get("/").json == {"messages": []}  # nothing can have been flashed


def _ctx(app: App) -> Any:
    from contextlib import contextmanager

    from werkzeug.test import EnvironBuilder

    @contextmanager
    def pushed() -> Any:
        ctx = app.request_context(EnvironBuilder("/save", method="POST").get_environ())
        ctx.push()
        try:
            yield ctx
        finally:
            ctx.pop()

    return pushed()


def test_flash_outside_a_request_says_where_it_works() -> None:
    with pytest.raises(RuntimeError, match=r"flash\(\) is only available while a request is being handled"):
        flash("x")
    with pytest.raises(RuntimeError, match=r"get_flashed_messages\(\) is only available"):
        get_flashed_messages()


def test_templates_can_show_flashed_messages(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "{% for category, message in get_flashed_messages(with_categories=true) %}"
        "<p class={{ category }}>{{ message }}</p>{% endfor %}",
        encoding="utf-8",
    )
    app = App(secret_key=SECRET, templates=Jinja2Templates(tmp_path))

    @app.post("/save")
    def save() -> Response:
        flash("<b>saved</b>", "info")
        return redirect("/")

    @app.get("/")
    def index() -> str:
        from microweb import render

        return render("page.html")

    client = validated_client(app)
    assert client.post("/save", follow_redirects=True).data == b"<p class=info>&lt;b&gt;saved&lt;/b&gt;</p>"
    assert client.get("/").data == b""


# ---------------------------------------------------------------- send_file


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.csv"
    path.write_bytes(b"id,name\n" + b"".join(b"%d,item %d\n" % (n, n) for n in range(100)))
    return path


@pytest.fixture
def files(app: App, report: Path) -> TestClient:
    @app.get("/report")
    def download() -> Any:
        return send_file(report)

    @app.get("/attachment")
    def attachment() -> Any:
        return send_file(report, as_attachment=True, download_name="export.csv")

    @app.get("/generated")
    def generated() -> Any:
        return send_file(io.BytesIO(b'{"made": true}'), download_name="data.json")

    return validated_client(app)


def test_send_file_sends_the_file_with_its_type_etag_and_last_modified(files: TestClient, report: Path) -> None:
    response = files.get("/report")
    assert response.status_code == 200 and response.data == report.read_bytes()
    assert response.mimetype == "text/csv"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.headers["Content-Length"] == str(report.stat().st_size)
    assert response.headers["Accept-Ranges"] == "bytes"


def test_send_file_answers_conditional_requests_with_an_empty_304(files: TestClient) -> None:
    first = files.get("/report")
    for headers in ({"If-None-Match": first.headers["ETag"]}, {"If-Modified-Since": first.headers["Last-Modified"]}):
        again = files.get("/report", headers=headers)
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == first.headers["ETag"]


def test_send_file_answers_a_range_with_206(files: TestClient, report: Path) -> None:
    whole = report.read_bytes()
    part = files.get("/report", headers={"Range": "bytes=8-19"})
    assert part.status_code == 206 and part.data == whole[8:20]
    assert part.headers["Content-Range"] == f"bytes 8-19/{len(whole)}"
    assert part.headers["Content-Length"] == "12"
    tail = files.get("/report", headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.data == whole[-5:]
    assert files.get("/report", headers={"Range": f"bytes={len(whole) + 10}-"}).status_code == 416
    stale = files.get("/report", headers={"Range": "bytes=0-3", "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.data == whole  # changed since: the whole file


def test_head_has_no_body(files: TestClient, report: Path) -> None:
    response = files.head("/report")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(report.stat().st_size)


def test_a_file_object_with_a_download_name_gets_its_type(files: TestClient) -> None:
    response = files.get("/generated")
    assert response.mimetype == "application/json" and response.json == {"made": True}


def test_as_attachment_with_a_download_name(files: TestClient) -> None:
    response = files.get("/attachment")
    assert response.headers["Content-Disposition"] == "attachment; filename=export.csv"
    assert response.mimetype == "text/csv"


def test_a_relative_path_is_taken_from_the_apps_root_path(tmp_path: Path) -> None:
    app = App(__name__)
    app.root_path = str(tmp_path)
    (tmp_path / "notes.txt").write_text("from the root path", encoding="utf-8")
    app.add_route("/notes", lambda: send_file("notes.txt"), endpoint="notes")
    assert validated_client(app).get("/notes").data == b"from the root path"


def test_the_response_is_the_apps_response_class_so_after_hooks_see_it(app: App, files: TestClient) -> None:
    seen: list[type] = []

    @app.after_request
    def note(response: Response) -> Response:
        seen.append(type(response))
        response.headers["X-Seen"] = "yes"
        return response

    assert files.get("/report").headers["X-Seen"] == "yes"
    assert seen == [Response]


def test_max_age_comes_from_the_argument_or_send_file_max_age_default(app: App, files: TestClient) -> None:
    assert files.get("/report").headers["Cache-Control"] == "no-cache"
    app.config.from_mapping(SEND_FILE_MAX_AGE_DEFAULT=600)
    cache = files.get("/report").headers["Cache-Control"]
    assert "max-age=600" in cache and "public" in cache
    app.add_route("/short", lambda: send_file(io.BytesIO(b"x"), "text/plain", max_age=5), endpoint="short")
    assert "max-age=5" in files.get("/short").headers["Cache-Control"]


def test_the_opened_file_is_closed_after_the_response(app: App, report: Path) -> None:
    opened: list[io.BufferedReader] = []

    @app.get("/own")
    def own() -> Any:
        opened.append(open(report, "rb"))  # noqa: SIM115  (send_file closes it)
        return send_file(opened[-1], "text/csv")

    client = validated_client(app)
    assert client.get("/own").data == report.read_bytes()
    # Werkzeug knows the length of a path or a BytesIO only: another file object is sent whole.
    assert client.get("/own", headers={"Range": "bytes=0-1"}).data == report.read_bytes()
    assert client.head("/own").data == b""  # sent without its body: closed all the same
    assert all(file.closed for file in opened) and len(opened) == 3


def test_send_file_over_a_real_server_head_and_304_have_no_body(app: App, files: TestClient, report: Path) -> None:
    etag = files.get("/report").headers["ETag"]
    with live_server(app) as port:
        head, body = raw_request(port, "GET", "/report", "Range: bytes=0-6\r\n")
        assert head.startswith(b"HTTP/1.0 206") and body == b"id,name"
        head, body = raw_request(port, "HEAD", "/report")
        assert head.startswith(b"HTTP/1.0 200") and body == b""
        head, body = raw_request(port, "GET", "/report", f"If-None-Match: {etag}\r\n")
        assert head.startswith(b"HTTP/1.0 304") and body == b""


# ---------------------------------------------------------------- send_from_directory


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    public.mkdir()
    (public / "a.txt").write_text("inside", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", public / "link.txt")
    return public


@pytest.mark.parametrize("name", ["a.txt", "../secret.txt", "link.txt", "/etc/passwd", "missing.txt", ".", "a\x00"])
def test_send_from_directory_only_serves_what_is_inside(app: App, folder: Path, name: str) -> None:
    app.add_route("/files/<path:name>", lambda name: send_from_directory(folder, name), endpoint="files")
    app.add_route("/one", lambda: send_from_directory(folder, name), endpoint="one")
    response = validated_client(app).get("/one")
    if name == "a.txt":
        assert response.status_code == 200 and response.data == b"inside"
    else:
        assert response.status_code == 404 and b"top secret" not in response.data


def test_the_static_route_is_send_from_directory(folder: Path) -> None:
    app = App(static_folder=folder)
    client = validated_client(app)
    assert client.get("/static/a.txt").headers["Cache-Control"] == "no-cache"
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # send_file's setting applies to static files too
    assert "max-age=3600" in client.get("/static/a.txt").headers["Cache-Control"]
    ranged = client.get("/static/a.txt", headers={"Range": "bytes=1-2"})
    assert ranged.status_code == 206 and ranged.data == b"ns"
    assert client.get("/static/link.txt").status_code == 404


# ---------------------------------------------------------------- redirect

_LOCATIONS = st.one_of(
    st.sampled_from(
        [
            "/new",
            "/a/b?x=1&y=2",
            "/a//b",
            "//evil.example/x",
            "http://[",
            "https://example.com/p?q=1#f",
            "next",
            "/caf\u00e9",
            "/a b",
            "/\n/evil.example",
            "http://b\u00fccher.example/",
            "/<script>&'\"",
            "",
            "?x=1",
            "/%41%zz",
            "/x\x00y",
            "http://[::1]:80/",
            "/\u2028",
        ]
    ),
    st.text(max_size=30),
    st.text(alphabet="/?&=#:%.<>\"' abc\t\r\n\u00e9", max_size=30),
)


def _sent(response: Any) -> tuple[Any, ...]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/from/here", base_url="http://example.com/app").get_environ()
    seen: list[Any] = []
    try:
        body = response(environ, lambda status, headers, exc_info=None: seen.extend([status, list(headers)]))
        data = b"".join(body)
    except Exception as exc:  # a location iri_to_uri cannot read: the same error either way
        return (type(exc),)
    return (*seen, data)


@settings(max_examples=800, deadline=None)
@given(
    location=_LOCATIONS,
    code=st.sampled_from([301, 302, 303, 305, 307, 308, 300, 200, 399, 299, HTTPStatus.FOUND]),
    autocorrect=st.booleans(),
)
def test_redirect_is_werkzeugs_redirect(location: str, code: int, autocorrect: bool) -> None:
    """The same page, status, headers in order, header check and sent bytes as Werkzeug's redirect."""
    from werkzeug.utils import redirect as werkzeugs

    from microweb.http import header_problem, quote_unsafe_in_url

    mine = redirect(location, code)
    theirs = werkzeugs(quote_unsafe_in_url(location), code, Response=Response)
    assert type(mine) is Response
    assert (mine.status, mine.get_data(), list(mine.headers)) == (
        theirs.status,
        theirs.get_data(),
        list(theirs.headers),
    )
    assert mine.header_problem() == header_problem(theirs.status, list(theirs.headers))
    mine, theirs = redirect(location, code), werkzeugs(quote_unsafe_in_url(location), code)
    mine.autocorrect_location_header = theirs.autocorrect_location_header = autocorrect
    assert _sent(mine) == _sent(theirs)
