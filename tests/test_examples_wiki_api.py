"""The wiki's blueprints beyond the pages: the JSON API at /api (MethodView, CSRF header, 409, CORS),
the admin blueprint (WIKI_ADMINS only), flashed messages, and the settings from the environment."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from examples_support import form_token, import_wiki
from gateways.harness import need_modules

from microweb.testing import TestClient

need_modules("sqlalchemy")
SECRET = "wiki-api-test-secret-0123456789ab"
TOOLS = "https://tools.example"  # an origin allowed to call the API with the user's cookie
HTTPS = {"base_url": "https://localhost", "headers": {"Origin": "https://localhost"}}


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = import_wiki().create_app(
        f"sqlite:///{tmp_path / 'wiki.sqlite3'}", SECRET, WIKI_ADMINS=["Ann"], WIKI_API_ORIGINS=[TOOLS]
    )
    yield app
    app.config["ENGINE"].dispose()


def sign_in(client: TestClient, name: str, **https: Any) -> str:
    """Sign in through the login form; returns the CSRF token the API hands out since."""
    token = form_token(client.get("/login", **https).get_data(as_text=True))
    assert client.post("/login", data={"csrf_token": token, "name": name}, **https).status_code == 303
    reply: Any = client.get("/api/session", **https)
    return str(reply.json["csrf_token"])


def put(client: TestClient, token: str | None, name: str, body: Any, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers = {**headers, "X-CSRF-Token": token}
    return client.put(f"/api/pages/{name}", json=body, headers=headers, **kwargs)


@pytest.fixture
def ann(app: Any) -> tuple[TestClient, str]:
    client = app.test_client()
    return client, sign_in(client, "Ann")


# ---------------------------------------------------------------- the API: reading


def test_api_session_says_who_and_hands_out_the_token(ann: tuple[TestClient, str], app: Any) -> None:
    client, token = ann
    assert client.get("/api/session").json == {"user": "Ann", "csrf_token": token}
    assert app.test_client().get("/api/session").json["user"] is None


def test_api_gets_a_page_and_lists_them(ann: tuple[TestClient, str], app: Any) -> None:
    client, token = ann
    assert put(client, token, "FrontPage", {"text": "one", "base": 0}).status_code == 201
    assert put(client, token, "FrontPage", {"text": "two", "base": 1, "comment": "again"}).status_code == 200
    put(client, token, "SandBox", {"text": "play", "base": 0})
    reader = app.test_client()  # reading needs no sign-in
    page = reader.get("/api/pages/FrontPage")
    assert page.status_code == 200 and page.content_type == "application/json"
    body = page.json
    assert {k: body[k] for k in ("name", "revision", "text", "author", "comment", "url")} == {
        "name": "FrontPage", "revision": 2, "text": "two", "author": "Ann", "comment": "again",
        "url": "/api/pages/FrontPage",
    }  # fmt: skip
    assert datetime.fromisoformat(body["created"]).utcoffset() == timedelta(0)  # UTC, said so (SQLite drops it)
    assert reader.get("/api/pages").json == {
        "pages": [
            {"name": "FrontPage", "revision": 2, "url": "/api/pages/FrontPage"},
            {"name": "SandBox", "revision": 1, "url": "/api/pages/SandBox"},
        ]
    }


def test_api_errors_are_json(app: Any) -> None:
    client = app.test_client()
    missing = client.get("/api/pages/NoSuchPage")
    assert missing.status_code == 404
    assert missing.json == {"error": "There is no page NoSuchPage yet: PUT one with base 0."}
    not_a_name = client.get("/api/pages/lowercase")
    assert not_a_name.status_code == 404 and "page names are WikiWords" in not_a_name.json["error"]
    assert client.get("/NoSuchPage").content_type.startswith("text/html")  # the pages stay HTML


# ---------------------------------------------------------------- the API: saving


def test_api_put_saves_a_revision_the_pages_show(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    reply = put(client, token, "FrontPage", {"text": "From a *script*.", "base": 0, "comment": "via API"})
    assert reply.status_code == 201 and reply.json["revision"] == 1 and reply.json["author"] == "Ann"
    page = client.get("/FrontPage").get_data(as_text=True)
    assert "From a <strong>script</strong>." in page and "Revision 1 by Ann" in page and "(via API)" in page


def test_api_put_needs_a_signed_in_session(app: Any) -> None:
    client = app.test_client()
    token = client.get("/api/session").json["csrf_token"]  # a valid token, but nobody signed in
    reply = put(client, token, "FrontPage", {"text": "anonymous", "base": 0})
    assert reply.status_code == 401 and "Sign in first" in reply.json["error"]
    assert client.get("/api/pages/FrontPage").status_code == 404


@pytest.mark.parametrize("sent", [None, "", "forged-token"])
def test_api_put_needs_the_csrf_header(ann: tuple[TestClient, str], sent: str | None) -> None:
    client, _ = ann
    reply = put(client, sent, "FrontPage", {"text": "sneaky", "base": 0})
    assert reply.status_code == 400 and "(CSRF check)" in reply.json["error"]
    assert client.get("/api/pages/FrontPage").status_code == 404


def test_api_put_from_a_stale_revision_is_a_409_with_the_current_one(ann: tuple[TestClient, str], app: Any) -> None:
    client, token = ann
    put(client, token, "FrontPage", {"text": "original", "base": 0})
    bob = app.test_client()
    bob_token = sign_in(bob, "Bob")
    assert put(client, token, "FrontPage", {"text": "Ann's", "base": 1}).status_code == 200
    stale = put(bob, bob_token, "FrontPage", {"text": "Bob's", "base": 1})
    assert stale.status_code == 409 and "changed since revision 1" in stale.json["error"]
    assert stale.json["current"]["revision"] == 2 and stale.json["current"]["text"] == "Ann's"
    current: Any = client.get("/api/pages/FrontPage")
    assert current.json["text"] == "Ann's"  # nothing overwritten
    merged = put(bob, bob_token, "FrontPage", {"text": "Ann's and Bob's", "base": 2})
    assert merged.status_code == 200 and merged.json["revision"] == 3 and merged.json["author"] == "Bob"
    assert put(bob, bob_token, "NewPage", {"text": "x", "base": 4}).status_code == 409  # no such revision


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not an object", "Send a JSON object"),
        ({"base": 0}, '"text" (and "comment", if given) must be strings'),
        ({"text": "x", "base": "1"}, '"base" is the revision the edit started from'),
        ({"text": "x", "base": True}, '"base" is the revision the edit started from'),
        ({"text": "x", "base": -1}, '"base" is the revision the edit started from'),
        ({"text": "   ", "base": 0}, "A page needs some text."),
        ({"text": "x" * 100_001, "base": 0}, "At most 100000 characters"),
    ],
)
def test_api_put_refuses_a_bad_body_saying_why(ann: tuple[TestClient, str], body: Any, says: str) -> None:
    client, token = ann
    reply = put(client, token, "FrontPage", body)
    assert reply.status_code == 400 and says in reply.json["error"]
    assert client.get("/api/pages/FrontPage").status_code == 404


def test_api_put_of_a_body_not_json_is_a_400(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    reply: Any = client.put("/api/pages/FrontPage", data="text=x", headers={"X-CSRF-Token": token})
    assert reply.status_code == 400 and "Send a JSON object" in reply.json["error"]


# ---------------------------------------------------------------- the API: CORS


def test_api_preflight_from_an_allowed_origin(app: Any) -> None:
    asks = {"Origin": TOOLS, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-csrf-token"}
    reply = app.test_client().options("/api/pages/FrontPage", headers=asks)
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == TOOLS
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert "PUT" in reply.headers["Access-Control-Allow-Methods"].split(", ")
    assert reply.headers["Access-Control-Allow-Headers"] == "Content-Type, X-CSRF-Token"


def test_api_preflight_from_another_origin_allows_nothing(app: Any) -> None:
    asks = {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}
    reply = app.test_client().options("/api/pages/FrontPage", headers=asks)
    assert "Access-Control-Allow-Origin" not in reply.headers and "Access-Control-Allow-Methods" not in reply.headers
    assert "Origin" in reply.headers["Vary"]


def test_api_credentialed_put_over_https_from_an_allowed_origin(app: Any) -> None:
    # Over HTTPS the CSRF check also wants the request's Origin to be the site's own, or an API origin.
    client = app.test_client()
    token = sign_in(client, "Ann", **HTTPS)
    body = {"text": "from the tools site", "base": 0}
    reply = put(client, token, "FrontPage", body, base_url="https://localhost", headers={"Origin": TOOLS})
    assert reply.status_code == 201, reply.get_data(as_text=True)
    assert reply.headers["Access-Control-Allow-Origin"] == TOOLS
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    read = client.get("/api/pages/FrontPage", base_url="https://localhost", headers={"Origin": TOOLS})
    assert read.json["author"] == "Ann" and read.headers["Access-Control-Allow-Origin"] == TOOLS


def test_api_put_over_https_from_another_origin_is_refused(app: Any) -> None:
    client = app.test_client()
    token = sign_in(client, "Ann", **HTTPS)  # even with the right token
    body = {"text": "forged", "base": 0}
    reply = put(
        client, token, "FrontPage", body, base_url="https://localhost", headers={"Origin": "https://evil.example"}
    )
    assert reply.status_code == 400 and "Access-Control-Allow-Origin" not in reply.headers
    assert client.get("/api/pages/FrontPage").status_code == 404


def test_without_api_origins_the_api_is_same_origin_only(tmp_path: Path) -> None:
    app = import_wiki().create_app(f"sqlite:///{tmp_path / 'w.sqlite3'}", SECRET)
    try:
        asks = {"Origin": TOOLS, "Access-Control-Request-Method": "PUT"}
        assert "Access-Control-Allow-Origin" not in app.test_client().options("/api/pages", headers=asks).headers
        assert app.test_client().get("/api/pages").json == {"pages": []}
    finally:
        app.config["ENGINE"].dispose()


# ---------------------------------------------------------------- admin


def test_an_admin_lists_the_pages_and_deletes_one(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    put(client, token, "FrontPage", {"text": "keep", "base": 0})
    put(client, token, "SpamPage", {"text": "buy now", "base": 0})
    put(client, token, "SpamPage", {"text": "buy now!", "base": 1})
    listing = client.get("/admin/").get_data(as_text=True)
    assert '<a href="/FrontPage">FrontPage</a>' in listing and '<a href="/SpamPage">SpamPage</a>' in listing
    assert 'action="/admin/SpamPage/delete"' in listing
    assert '<a href="/admin/" id="admin">Admin</a>' in client.get("/recent").get_data(as_text=True)  # the header's link
    reply = client.post("/admin/SpamPage/delete", data={"csrf_token": token})
    assert reply.status_code == 303 and reply.headers["Location"] == "/admin/"
    after = client.get("/admin/").get_data(as_text=True)
    assert "Deleted SpamPage and its history." in after and "SpamPage</a>" not in after
    assert client.get("/SpamPage").status_code == 404 and client.get("/SpamPage/revision/1").status_code == 404
    assert client.get("/FrontPage").status_code == 200
    assert client.post("/admin/SpamPage/delete", data={"csrf_token": token}).status_code == 404  # gone already


def test_admin_refuses_who_is_not_in_wiki_admins(app: Any, ann: tuple[TestClient, str]) -> None:
    client, token = ann
    put(client, token, "FrontPage", {"text": "keep", "base": 0})
    bob = app.test_client()
    bob_token = sign_in(bob, "Bob")
    listing = bob.get("/admin/")
    assert listing.status_code == 403 and "Bob is not one (see WIKI_ADMINS)" in listing.get_data(as_text=True)
    assert 'id="admin"' not in bob.get("/recent").get_data(as_text=True)  # no link to it either
    assert bob.post("/admin/FrontPage/delete", data={"csrf_token": bob_token}).status_code == 403
    assert client.get("/FrontPage").status_code == 200  # not deleted


def test_admin_sends_the_signed_out_to_sign_in(app: Any) -> None:
    reply = app.test_client().get("/admin/")
    assert reply.status_code == 303 and reply.headers["Location"] == "/login?next=/admin/"


def test_admin_delete_needs_the_csrf_token(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    put(client, token, "FrontPage", {"text": "keep", "base": 0})
    assert client.post("/admin/FrontPage/delete").status_code == 400
    assert client.get("/FrontPage").status_code == 200


# ---------------------------------------------------------------- flashed messages, settings


def test_signing_in_saving_and_signing_out_flash_a_message_once(app: Any) -> None:
    client = app.test_client()
    token = form_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post("/login", data={"csrf_token": token, "name": "Ann"}, follow_redirects=True)
    assert '<p class="flash">Signed in as Ann.</p>' in signed_in.get_data(as_text=True)
    page = client.get("/recent").get_data(as_text=True)
    assert 'class="flash"' not in page  # shown once
    data = {"csrf_token": form_token(page), "text": "hi", "base": "0", "action": "save"}
    saved = client.post("/FrontPage/edit", data=data, follow_redirects=True).get_data(as_text=True)
    assert '<p class="flash">Saved revision 1.</p>' in saved
    out = client.post("/logout", data={"csrf_token": form_token(saved)}, follow_redirects=True)
    assert '<p class="flash">Signed out.</p>' in out.get_data(as_text=True)


def test_admins_and_api_origins_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKI_ADMINS", "Ann Lee, Bob")
    monkeypatch.setenv("WIKI_API_ORIGINS", TOOLS)
    app = import_wiki().create_app(f"sqlite:///{tmp_path / 'w.sqlite3'}", SECRET)
    try:
        assert app.config["WIKI_ADMINS"] == ["Ann Lee", "Bob"] and app.config["WIKI_API_ORIGINS"] == [TOOLS]
        client = app.test_client()
        sign_in(client, "Ann Lee")
        assert client.get("/admin/").status_code == 200
        asks = {"Origin": TOOLS, "Access-Control-Request-Method": "GET"}
        assert client.options("/api/pages", headers=asks).headers["Access-Control-Allow-Origin"] == TOOLS
    finally:
        app.config["ENGINE"].dispose()
