"""Shared fixtures: every test request goes through ``wsgiref.validate.validator``; helpers live in ``support``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from microweb import App
from microweb.serving import SERVERS, register_server
from microweb.testing import TestClient

from support import SECRET, validated_client

# Hypothesis' default 200 ms deadline per example is a timing assertion, which a busy two-core machine
# fails now and then; and its random examples would make a run depend on the seed. No deadline, the same
# examples every run (derandomize), and no example database left in the checkout.
settings.register_profile("microweb", deadline=None, derandomize=True, database=None)
settings.load_profile("microweb")


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
