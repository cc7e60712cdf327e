"""Sessions: a dict in a signed cookie; tampered or expired cookies read as empty."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import BadSignature, URLSafeTimedSerializer

from microweb import App, session
from microweb.sessions import SessionCookie
from microweb.testing import TestClient

from support import SECRET


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


def test_clearing_the_session_deletes_the_cookie_with_the_same_flags(session_app: App, client: TestClient) -> None:
    # A browser ignores a Set-Cookie for a __Host- cookie without Secure: logging out would not work.
    session_app.config.update(SESSION_COOKIE_NAME="__Host-session", SESSION_COOKIE_SECURE=True)
    set_header = client.post("/login/ann", base_url="https://localhost").headers["Set-Cookie"]
    delete_header = client.post("/logout", base_url="https://localhost").headers["Set-Cookie"]
    assert delete_header.startswith("__Host-session=;") and "Max-Age=0" in delete_header
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in set_header.split("; ") and flag in delete_header.split("; ")


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


def test_a_cookie_copied_before_logout_stays_valid_until_it_expires(session_app: App, client: TestClient) -> None:
    # What SECURITY.md says: the session lives in the cookie, so logging out cannot revoke a stolen copy.
    client.post("/login/ann")
    copied = _cookie(client).value
    client.post("/logout")
    assert client.get("/me").json == {"user": None}
    client.set_cookie("session", copied)
    assert client.get("/me").json == {"user": "ann"}


def test_session_under_a_mount_point_uses_that_path(session_app: App) -> None:
    client = TestClient(session_app)
    header = client.post("/login/ann", base_url="http://localhost/app").headers["Set-Cookie"]
    assert "Path=/app" in header


def test_key_rotation_old_cookies_still_verify(session_app: App) -> None:
    client = TestClient(session_app)
    client.post("/login/ann")
    session_app.config["SECRET_KEY"] = [SECRET, "the-new-key-0123456789abcdef"]
    assert client.get("/me").json == {"user": "ann"}
    session_app.config["SECRET_KEY"] = ["the-new-key-0123456789abcdef"]
    assert client.get("/me").json == {"user": None}


def test_key_rotation_uses_itsdangerous_fallback_keys_and_the_newest_signs(session_app: App) -> None:
    old, new = SECRET, "the-new-key-0123456789abcdef"
    only_old, only_new = (URLSafeTimedSerializer(key, salt="microweb.session") for key in (old, new))
    client = TestClient(session_app)
    client.post("/login/ann")
    assert only_old.loads(_cookie(client).value) == {"user": "ann"}
    session_app.config["SECRET_KEY"] = [old, new]
    # itsdangerous' own rotation: every key verifies, the last one signs
    assert session_app.session_cookie.serializer.secret_keys == [old.encode(), new.encode()]
    assert client.get("/me").json == {"user": "ann"}  # signed with the old key, still valid
    client.post("/login/bob")  # the session changes, so the cookie is signed again: with the new key
    resigned = _cookie(client).value
    assert only_new.loads(resigned) == {"user": "bob"}
    with pytest.raises(BadSignature):
        only_old.loads(resigned)


@pytest.mark.parametrize("how", ["assigned", "in place"])
def test_a_key_removed_from_the_list_stops_verifying_on_the_next_request(session_app: App, how: str) -> None:
    # A leaked key taken out of the list: its cookies (and forged ones) must stop reading at once, even when
    # the list is changed in place, where the signer cached for the old list object used to be kept.
    leaked, new = "the-leaked-key-0123456789abcdef", "the-new-key-0123456789abcdef"
    keys: list[str | bytes] = [leaked]
    session_app.config["SECRET_KEY"] = keys
    client = TestClient(session_app)
    client.post("/login/ann")
    signed_with_leaked = _cookie(client).value
    assert client.get("/me").json == {"user": "ann"}  # the signer for [leaked] is made and cached
    if how == "assigned":
        session_app.config["SECRET_KEY"] = [new]
    else:
        keys[:] = [new]
    assert client.get("/me").json == {"user": None}  # the leaked key's cookie no longer reads
    forged = URLSafeTimedSerializer(leaked, salt="microweb.session").dumps({"user": "admin"})
    client.set_cookie("session", forged)
    assert client.get("/me").json == {"user": None}
    client.post("/login/bob")  # the new key signs, and its cookie reads
    assert URLSafeTimedSerializer(new, salt="microweb.session").loads(_cookie(client).value) == {"user": "bob"}
    assert client.get("/me").json == {"user": "bob"}
    client.set_cookie("session", signed_with_leaked)
    assert client.get("/me").json == {"user": None}


def test_a_session_over_4_kb_is_an_error_on_the_microweb_logger_not_a_warning(
    session_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    # Browsers drop a cookie over about 4 KB: the session would silently stop changing.
    @session_app.post("/big")
    def big() -> str:
        session["data"] = secrets.token_hex(3000)  # 6,000 characters: a cookie of over 6 KB
        return "stored"

    client = TestClient(session_app)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Werkzeug's "cookie too large" UserWarning would fail here
        with caplog.at_level(logging.ERROR, logger="microweb"):
            response = client.post("/big")
            small = TestClient(session_app).post("/login/ann")  # a small session: no record
    assert response.status_code == 200 and small.status_code == 200
    size = len(response.headers["Set-Cookie"])
    (record,) = [r for r in caplog.records if r.name == "microweb"]  # one for the big cookie, none for the small
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert f"{size} bytes" in message and "4093" in message
    assert "ids in the session" in message  # what to do instead


def test_session_is_signed_not_encrypted(session_app: App, client: TestClient) -> None:
    # What SECURITY.md says: anyone holding the cookie can read it, nobody without the key can change it.
    client.post("/login/ann")
    payload = _cookie(client).value.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == {"user": "ann"}


def test_session_without_secret_key_names_the_setting() -> None:
    app = App()

    @app.get("/")
    def view() -> str:
        try:
            session["x"] = 1
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = app.test_client().get("/").get_data(as_text=True)
    assert "App(secret_key=...)" in message and "app.config['SECRET_KEY']" in message


COPIED = ", so it was copied from an example, not generated"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "secret_key is empty"),
        (b"", "secret_key is empty"),
        (" " * 32, "secret_key is only whitespace"),
        ("\t\n" * 10, "secret_key is only whitespace"),
        ("short", "secret_key is only 5 characters long"),
        (b"0123456789", "secret_key is only 10 characters long"),
        ("a" * 32, "secret_key uses only 1 different characters"),
        ("abc" * 11, "secret_key uses only 3 different characters"),
        (12345678901234567890, "secret_key is of type int, not a str, bytes or list of them"),
        ([], "secret_key is an empty list"),
        (["long-enough-key-0123456789", "weak"], "key 2 of 2 in secret_key is only 4 characters long"),
        (["", "long-enough-key-0123456789"], "key 1 of 2 in secret_key is empty"),
        ("change-me-to-32-random-bytes-0123", "secret_key contains the placeholder word 'change-me'" + COPIED),
        (b"YOUR-SECRET-KEY-HERE-0123456789", "secret_key contains the placeholder word 'secret-key'" + COPIED),
        ("a8f5f167f44f4964e6c998dee827110cExample", "secret_key contains the placeholder word 'example'" + COPIED),
        (
            [secrets.token_hex(32), "your-key-0123456789abcdef"],
            "key 2 of 2 in secret_key contains the placeholder word 'your-'" + COPIED,
        ),
    ],
)
def test_weak_or_empty_secret_key_is_refused_with_what_is_wrong(key: Any, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        App(secret_key=key)
    message = str(refused.value)
    assert message.startswith(problem + "; secret_key must be at least 16 characters of random data")
    assert "secrets.token_hex(32)" in message
    assert "\n" not in message


PLACEHOLDERS = ["change-me", "changeme", "secret-key", "your-", "example", "placeholder"]


def _any_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from(sorted({c.lower(), c.upper()})) for c in word)).map("".join)


@given(
    word=st.sampled_from(PLACEHOLDERS).flatmap(_any_case),
    before=st.text(max_size=20),
    after=st.text(alphabet="0123456789abcdef", min_size=16, max_size=40),
    as_bytes=st.booleans(),
)
def test_a_key_holding_a_placeholder_word_is_refused_whatever_the_case_or_place(
    word: str, before: str, after: str, as_bytes: bool
) -> None:
    key: str | bytes = before + word + after
    if as_bytes:
        key = key.encode("utf-8")
    with pytest.raises(ValueError) as refused:
        App(secret_key=key)
    message = str(refused.value)
    assert re.match(r"secret_key contains the placeholder word '[a-z-]+', so it was copied from an example", message)
    assert "secrets.token_hex(32)" in message and "\n" not in message


@given(st.binary(min_size=16, max_size=64))
def test_generated_hex_keys_are_never_taken_for_placeholders(raw: bytes) -> None:
    key = raw.hex()  # what secrets.token_hex() gives
    if len(set(key)) >= 4:
        assert App(secret_key=key).session_cookie.secret_key == key


def _literal_keys(text: str) -> list[str]:
    """Every literal string a snippet gives as a secret key (``secret_key="..."``, ``SECRET_KEY=...``)."""
    quoted = re.findall(r"""(?:secret_key|SECRET_KEY|SECRET)["'\]]*\s*[=:,]\s*b?["']([^"'\n]*)["']""", text)
    shell = re.findall(r"SECRET_KEY=([^\s\"'`]+)", text)
    return quoted + shell


def test_no_key_in_the_docs_or_examples_works() -> None:
    # Anyone who read the docs can sign sessions with a key printed in them: every one must be refused.
    root = Path(__file__).resolve().parent.parent
    docs = sorted(path for path in (root / "docs").rglob("*.md") if "_build" not in path.parts)
    files = [root / "README.md", root / "SECURITY.md", *docs, *sorted((root / "examples").rglob("*.py"))]
    found = [(path.name, key) for path in files for key in _literal_keys(path.read_text(encoding="utf-8"))]
    assert len(docs) >= 20 and ("examples.md", "...") in found  # the scan sees the shell examples' SECRET_KEY=...
    for name, key in found:
        with pytest.raises(ValueError):
            SessionCookie.check_key(key)
        assert name  # (for the failure message)


def test_weak_key_message_never_shows_the_key() -> None:
    with pytest.raises(ValueError) as refused:
        App(secret_key="hunter2hunter2")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("key", ["0123456789abcdef", b"\x00\x01\x02\x03" * 4, "padded key, ok  "])
def test_keys_of_16_varied_characters_are_accepted(key: str | bytes) -> None:
    assert App(secret_key=key).session_cookie.secret_key == key
    for generated in (secrets.token_hex(8), secrets.token_bytes(16), secrets.token_urlsafe(32)):
        App(secret_key=generated)


def test_weak_key_set_in_config_later_is_refused_at_once(session_app: App) -> None:
    with pytest.raises(ValueError, match="secret_key is only 9 characters long"):
        session_app.config["SECRET_KEY"] = "too-short"
    assert session_app.config["SECRET_KEY"] == SECRET  # the weak key never took effect


def test_weak_key_put_in_the_key_list_in_place_is_refused_when_the_session_is_used(session_app: App) -> None:
    session_app.config["SECRET_KEY"] = [SECRET]
    session_app.config["SECRET_KEY"].append("too-short")  # no Config method sees this
    with pytest.raises(ValueError, match="key 2 of 2 in secret_key is only 9 characters long"):
        session_app.session_cookie  # noqa: B018  (the property builds the signer)


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
