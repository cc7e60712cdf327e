"""Shared fixtures: every test request goes through ``wsgiref.validate.validator``; helpers live in ``support``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from microweb import App
from microweb.serving import SERVERS, register_server
from microweb.testing import TestClient

from support import SECRET, validated_client


@pytest.fixture
def app() -> App:
    return App(__name__, secret_key=SECRET)


@pytest.fixture
def client(app: App) -> TestClient:
    return validated_client(app)


@pytest.fixture
def recorder() -> Iterator[dict[str, Any]]:
    """A server adapter called ``test-recorder`` that records what it was given instead of serving."""
    seen: dict[str, Any] = {}

    @register_server("test-recorder")
    def record(app: Any, **options: Any) -> None:
        seen.update(app=app, **options)

    try:
        yield seen
    finally:
        del SERVERS["test-recorder"]
