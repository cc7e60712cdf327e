"""Shared fixtures: every test request goes through ``wsgiref.validate.validator``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from microweb import App
from microweb.serving import SERVERS, register_server
from microweb.testing import TestClient

SECRET = "test-secret-key-0123456789abcdef"


def validated_client(app: Any, **kwargs: Any) -> TestClient:
    """A test client that checks every exchange against PEP 3333 (wsgiref.validate)."""
    return TestClient(validator(app), **kwargs)


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
