"""CSRF protection: a session-bound token, checked on unsafe methods."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from microweb import App, Jinja2Templates, csrf_token, render
from microweb.csrf import protect
from microweb.testing import TestClient

from support import SECRET


@pytest.fixture
def form_app(tmp_path: Path) -> App:
    (tmp_path / "form.html").write_text(
        '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>', "utf-8"
    )
    app = App(secret_key=SECRET, templates=Jinja2Templates(tmp_path))

    @app.get("/form")
    def form() -> str:
        return render("form.html")

    @app.route("/save", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def save() -> str:
        return "saved"

    @app.post("/webhook")
    def webhook() -> str:
        return "hooked"

    @app.get("/token")
    def token() -> str:
        return csrf_token()

    protect(app, exempt=["webhook"])
    return app


def _token(client: TestClient) -> str:
    page = client.get("/form").get_data(as_text=True)
    found = re.search(r'value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_form_with_token_passes(form_app: App) -> None:
    client = form_app.test_client()
    token = _token(client)
    assert client.post("/save", data={"csrf_token": token}).data == b"saved"
    assert client.put("/save", headers={"X-CSRF-Token": token}).data == b"saved"
    assert client.get("/token").get_data(as_text=True) == token  # one token per session


@pytest.mark.parametrize("sent", [None, "", "forged", "x" * 43])
def test_missing_or_wrong_token_is_a_400_that_explains(form_app: App, sent: str | None) -> None:
    client = form_app.test_client()
    _token(client)
    response = client.post("/save", data={} if sent is None else {"csrf_token": sent})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_token_of_another_session_fails(form_app: App) -> None:
    stolen = _token(form_app.test_client())
    victim = form_app.test_client()
    _token(victim)
    assert victim.post("/save", data={"csrf_token": stolen}).status_code == 400


def test_no_session_yet_fails_and_safe_methods_exempt_and_unknown_paths_404(form_app: App) -> None:
    client = form_app.test_client()
    assert client.delete("/save").status_code == 400
    assert client.get("/form").status_code == 200
    assert client.post("/webhook").data == b"hooked"
    assert client.post("/nowhere").status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_checked(form_app: App, method: str) -> None:
    client = form_app.test_client()
    token = _token(client)
    refused = client.open("/save", method=method)
    assert refused.status_code == 400
    assert "security token is missing or out of date (CSRF check)" in refused.get_data(as_text=True)
    assert client.open("/save", method=method, headers={"X-CSRF-Token": token}).data == b"saved"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_need_no_token(form_app: App, method: str) -> None:
    assert form_app.test_client().open("/save", method=method).status_code == 200


def test_refusal_explains_itself_to_json_clients_too(form_app: App) -> None:
    client = form_app.test_client()
    _token(client)
    response = client.post("/save", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "CSRF check" in response.json["error"]["description"]


def test_tokens_are_compared_in_constant_time(form_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    import microweb.csrf

    compared: list[tuple[bytes, bytes]] = []
    real_compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(microweb.csrf.hmac, "compare_digest", spy)
    client = form_app.test_client()
    token = _token(client)
    assert client.post("/save", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/save", data={"csrf_token": token}).status_code == 200
    # (itsdangerous compares the cookie's signature the same way: those calls are in the list too)
    assert (b"forged", token.encode()) in compared and (token.encode(), token.encode()) in compared


def test_tokens_are_random_and_long(form_app: App) -> None:
    tokens = {_token(form_app.test_client()) for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, URL-safe base64
