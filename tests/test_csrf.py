"""CSRF protection: a session-bound token, checked on unsafe methods."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from microweb import App, Jinja2Templates, csrf_token, render
from microweb.csrf import protect
from microweb.testing import TestClient

from conftest import SECRET


@pytest.fixture
def form_app(tmp_path: Path) -> App:
    (tmp_path / "form.html").write_text(
        '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>', "utf-8"
    )
    app = App(secret_key=SECRET, templates=Jinja2Templates(tmp_path))

    @app.get("/form")
    def form() -> str:
        return render("form.html")

    @app.route("/save", methods=["POST", "PUT", "DELETE"])
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
