"""Test helpers: a Werkzeug test client that closes every response for you."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client, TestResponse


class TestClient(Client):
    """A ``werkzeug.test.Client`` whose requests are buffered by default.

    Buffering reads the body and closes it, so teardown hooks and resource
    finalization of streamed responses have run when ``client.get()``
    returns. Pass ``buffered=False`` to read a stream step by step (and
    close the response yourself).
    """

    __test__ = False  # not a pytest test class

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> TestResponse:
        """Make a request; see ``werkzeug.test.Client.open``."""
        return super().open(*args, buffered=buffered, **kwargs)
