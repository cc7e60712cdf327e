"""The pytest plugin installed with microweb: ``client`` and ``runner`` fixtures for your ``app`` fixture.

It adds nothing but these two fixtures, and they are made only for tests that ask
for them; both need an ``app`` fixture of yours (in ``conftest.py``). A ``client``
or ``runner`` fixture of your own (in a conftest or a test module) takes precedence.
"""

from __future__ import annotations

from typing import Any

import pytest

from .testing import CliRunner, TestClient


@pytest.fixture
def client(app: Any) -> TestClient:
    """A test client of your ``app`` fixture: ``client.get("/")`` (define ``app`` in conftest.py)."""
    make = getattr(app, "test_client", None)
    return make() if callable(make) else TestClient(app)  # a wrapped app (middleware) has no test_client


@pytest.fixture
def runner(app: Any) -> CliRunner:
    """Runs the ``microweb`` command on your ``app`` fixture: ``runner.invoke("routes").output``."""
    return CliRunner(app)
