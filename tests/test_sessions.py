"""Sessions: a dict in a signed cookie; tampered or expired cookies read as empty."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from microweb import App, session
from microweb.testing import TestClient

from conftest import SECRET


@pytest.fixture
def session_app(app: App) -> App:
    @app.post("/login/<name>")
    def login(name: str) -> str:
        session["user"] = name
        return "ok"

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"user": session.get("user")}

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return "bye"

    return app


def _cookie(client: TestClient) -> Any:
    return client.get_cookie("session")


def test_session_round_trip(session_app: App, client: TestClient) -> None:
    assert client.get("/me").json == {"user": None}
    client.post("/login/ann")
    assert client.get("/me").json == {"user": "ann"}
    client.post("/logout")
    assert client.get("/me").json == {"user": None}
    assert _cookie(client) is None


def test_cookie_flags(session_app: App, client: TestClient) -> None:
    header = client.post("/login/ann").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header
    session_app.config["SESSION_COOKIE_SECURE"] = True
    assert "Secure" in client.post("/login/bob").headers["Set-Cookie"]


def test_cookie_only_sent_when_changed_and_vary_cookie(session_app: App, client: TestClient) -> None:
    client.post("/login/ann")
    response = client.get("/me")
    assert "Set-Cookie" not in response.headers
    assert "Cookie" in response.headers["Vary"]


def test_tampered_cookie_reads_as_empty(session_app: App, client: TestClient) -> None:
    client.post("/login/ann")
    value = _cookie(client).value
    forged = URLSafeTimedSerializer("another-key-of-sufficient-length", salt="microweb.session").dumps({"user": "eve"})
    for bad in (value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), forged, "garbage", value + "x"):
        client.set_cookie("session", bad)
        assert client.get("/me").json == {"user": None}


def test_expired_cookie_reads_as_empty(session_app: App, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client.post("/login/ann")
    assert client.get("/me").json == {"user": "ann"}
    later = time.time() + session_app.config["SESSION_MAX_AGE"] + 10
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/me").json == {"user": None}


def test_session_under_a_mount_point_uses_that_path(session_app: App) -> None:
    client = TestClient(session_app)
    header = client.post("/login/ann", base_url="http://localhost/app").headers["Set-Cookie"]
    assert "Path=/app" in header


def test_key_rotation_old_cookies_still_verify(session_app: App) -> None:
    client = TestClient(session_app)
    client.post("/login/ann")
    session_app.config["SECRET_KEY"] = [SECRET, "the-new-secret-key-0123456789"]
    assert client.get("/me").json == {"user": "ann"}
    session_app.config["SECRET_KEY"] = ["the-new-secret-key-0123456789"]
    assert client.get("/me").json == {"user": None}


def test_session_without_secret_key_names_the_setting() -> None:
    app = App()

    @app.get("/")
    def view() -> str:
        try:
            session["x"] = 1
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "App(secret_key=...)" in app.test_client().get("/").get_data(as_text=True)


@pytest.mark.parametrize("key", ["", "short", b"0123456789", ["long-enough-key-0123456789", "weak"], []])
def test_weak_or_empty_secret_key_is_refused(key: Any) -> None:
    with pytest.raises(ValueError, match="secret_key must be at least 16 characters"):
        App(secret_key=key)


def test_session_tracks_changes() -> None:
    from microweb import Session

    s = Session({"a": 1})
    assert not s.modified
    s.get("a")
    assert not s.modified
    s.setdefault("a", 2)
    assert not s.modified
    s.setdefault("b", 2)
    assert s.modified
    for change in (lambda s: s.pop("a"), lambda s: s.update(c=1), lambda s: s.popitem(), lambda s: s.__delitem__("c")):
        fresh = Session({"a": 1, "c": 3})
        change(fresh)
        assert fresh.modified
