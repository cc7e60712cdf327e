"""Static files: MIME types, ETag/Last-Modified/304, and no way out of the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from microweb import App
from microweb.testing import TestClient

from support import live_server, raw_request, validated_client


@pytest.fixture
def static_client(tmp_path: Path) -> TestClient:
    folder = tmp_path / "public"
    (folder / "css").mkdir(parents=True)
    (folder / "css" / "site.css").write_text("body { color: red }", encoding="utf-8")
    (folder / "app.js").write_text("console.log(1)", encoding="utf-8")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "more.txt").write_text("top secret too", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    os.symlink(tmp_path / "outside", folder / "linkdir")
    os.symlink(folder / "app.js", folder / "inside-link.js")
    return validated_client(App(static_folder=folder))


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/static/css/site.css", "text/css"), ("/static/app.js", "text/javascript"), ("/static/logo.png", "image/png")],
)
def test_serves_files_with_mime_types(static_client: TestClient, path: str, mimetype: str) -> None:
    response = static_client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert int(response.headers["Content-Length"]) == len(response.data) > 0


def test_conditional_requests_get_304(static_client: TestClient) -> None:
    first = static_client.get("/static/app.js")
    by_etag = static_client.get("/static/app.js", headers={"If-None-Match": first.headers["ETag"]})
    by_date = static_client.get("/static/app.js", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert by_etag.status_code == by_date.status_code == 304
    assert by_etag.data == b""


def test_head_has_no_body(static_client: TestClient) -> None:
    response = static_client.head("/static/app.js")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(len("console.log(1)"))


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%252e%252e/secret.txt",
        "/static/css/../../secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2fetc/passwd",
        "/static//etc/passwd",
        "/static/css/%2e%2e/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/..%252fsecret.txt",
        "/static/%252e%252e%252fsecret.txt",
        "/static/%c0%ae%c0%ae/secret.txt",
        "/static/link.txt",
        "/static/linkdir/more.txt",
        "/static/linkdir/../../secret.txt",
        "/static/app.js%00.png",
        "/static/%00",
        "/static/..%00/secret.txt",
        "/static/missing.txt",
        "/static/css",
        "/static/C:/windows/win.ini",
        "/static/\\..\\secret.txt",
        "/static/..\\secret.txt",
        "/static/%5c..%5csecret.txt",
        "/static/css\\..\\..\\secret.txt",
    ],
)
def test_no_way_out_of_the_folder(static_client: TestClient, path: str) -> None:
    response = static_client.get(path)
    assert response.status_code in (404, 308)
    assert b"top secret" not in static_client.get(path, follow_redirects=True).data


def test_no_way_out_over_a_real_server(tmp_path: Path) -> None:
    # The request targets go out byte for byte, unnormalised, and the server decodes them itself.
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "app.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    targets = ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%252e%252e/secret.txt"]
    targets += ["/static/..%2fsecret.txt", "/static/..%5csecret.txt", "/static/app.js%00"]
    targets.append(f"/static/{tmp_path}/secret.txt")
    with live_server(App(static_folder=folder)) as port:
        assert raw_request(port, "GET", "/static/app.js")[1] == b"console.log(1)"
        for target in targets:
            head, body = raw_request(port, "GET", target)
            assert head.split(b"\r\n")[0].split()[1] in (b"404", b"308"), target
            assert b"top secret" not in body


def test_absolute_path_of_a_real_file_is_not_served(static_client: TestClient, tmp_path: Path) -> None:
    secret = str(tmp_path / "secret.txt")  # /tmp/.../secret.txt
    for path in ("/static/" + secret, "/static/%2f" + secret.lstrip("/"), "/static/" + secret.replace("/", "%2f")):
        response = static_client.get(path, follow_redirects=True)
        assert response.status_code == 404 and b"top secret" not in response.data


def test_symlink_inside_the_folder_is_served(static_client: TestClient) -> None:
    assert static_client.get("/static/inside-link.js").data == b"console.log(1)"


def test_static_url_path_and_relative_folder() -> None:
    app = App(__name__, static_folder="static_fixture", static_url_path="/assets/")
    here = Path(__file__).parent / "static_fixture"
    here.mkdir(exist_ok=True)
    try:
        (here / "a.txt").write_text("from the module's folder", encoding="utf-8")
        assert app.test_client().get("/assets/a.txt").data == b"from the module's folder"
        assert app.url_for("static", filename="a.txt") == "/assets/a.txt"
    finally:
        (here / "a.txt").unlink()
        here.rmdir()


SECRETS = (b"hunter2", b"secret-token", b"hidden")


@pytest.fixture
def dotfile_folder(tmp_path: Path) -> Path:
    """A static folder with dotfiles and dot-folders at every position, and files beside them to serve."""
    folder = tmp_path / "public"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "config").write_text("[remote] secret-token", encoding="utf-8")
    (folder / ".env").write_text("DB_PASSWORD=hunter2", encoding="utf-8")
    (folder / "css" / ".private").mkdir(parents=True)
    (folder / "css" / ".private" / "x.css").write_text("hidden", encoding="utf-8")
    (folder / "css" / ".hidden.css").write_text("hidden", encoding="utf-8")
    (folder / "css" / "site.css").write_text("body {}", encoding="utf-8")
    (folder / "css\\.hidden.css").write_text("hidden", encoding="utf-8")  # on Windows: css/.hidden.css
    (folder / ".well-known").mkdir()
    (folder / ".well-known" / "security.txt").write_text("Contact: mailto:hidden", encoding="utf-8")
    (folder / "v1.2").mkdir()
    (folder / "v1.2" / "app.min.js").write_text("ok()", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    return folder


DOTFILE_PATHS = [
    "/static/.env",  # first segment
    "/static/%2eenv",
    "/static/%2Eenv",
    "/static/.git/config",
    "/static/%2egit/config",
    "/static/.git%2fconfig",
    "/static/css/.private/x.css",  # a middle segment
    "/static/css/%2Eprivate/x.css",
    "/static/css/.hidden.css",  # the last segment
    "/static/css/%2ehidden.css",
    "/static/css%2f.hidden.css",
    "/static/css%5c.hidden.css",  # a backslash, Windows' separator
    "/static/css%5C%2ehidden.css",
    "/static/.well-known/security.txt",
]


@pytest.mark.parametrize("path", DOTFILE_PATHS)
def test_dotfiles_are_a_404_by_default(dotfile_folder: Path, path: str) -> None:
    client = validated_client(App(static_folder=dotfile_folder))
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 404, path
    assert not any(secret in response.data for secret in SECRETS)


def test_files_beside_dotfiles_and_dots_inside_names_are_served(dotfile_folder: Path) -> None:
    client = validated_client(App(static_folder=dotfile_folder))
    assert client.get("/static/css/site.css").data == b"body {}"
    assert client.get("/static/v1.2/app.min.js").data == b"ok()"


def test_static_dotfiles_setting_serves_them_but_never_outside_the_folder(dotfile_folder: Path) -> None:
    app = App(static_folder=dotfile_folder)
    assert app.config["STATIC_DOTFILES"] is False
    app.config["STATIC_DOTFILES"] = True
    client = validated_client(app)
    assert client.get("/static/.well-known/security.txt").data == b"Contact: mailto:hidden"
    assert client.get("/static/%2egit/config").data == b"[remote] secret-token"
    for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/.%2e/secret.txt"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 404 and b"top secret" not in response.data


def test_dotfiles_are_a_404_over_a_real_server(dotfile_folder: Path) -> None:
    # Byte for byte as sent: the server decodes %2e and %5c itself.
    with live_server(App(static_folder=dotfile_folder)) as port:
        assert raw_request(port, "GET", "/static/css/site.css")[1] == b"body {}"
        for target in DOTFILE_PATHS:
            head, body = raw_request(port, "GET", target)
            assert head.split(b"\r\n")[0].split()[1] in (b"404", b"308"), target
            assert not any(secret in body for secret in SECRETS), target
