"""What every answer to a hostile request must be, in process and over a socket; and the count report."""

from __future__ import annotations

import re

import pytest

from .generate import HostileRequest

#: What a body may show only if the request itself carried it (the app echoes some input).
LEAKS = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b\w+(?:Error|Exception)\b")


def check_answer(req: HostileRequest, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
    """Not a 5xx; no traceback or exception name in the body; HEAD without a body; a true Content-Length."""
    code = int(status[:3])
    assert 100 <= code < 500, f"{status} for {req!r}"
    check_no_leak(req.text(), status, data)
    if req.method == "HEAD":
        assert data == b""
    length = [value for name, value in headers if name.lower() == "content-length"]
    if length and req.method != "HEAD" and code not in (204, 304):
        assert int(length[0]) == len(data), "Content-Length does not match the body"


def check_no_leak(sent: str, status: str, data: bytes) -> None:
    """No traceback or exception name in the body, unless the request itself had that text."""
    for leak in LEAKS.findall(data.decode("latin-1")):
        assert leak in sent, f"{leak!r} in the body of {status} for {sent!r}"


def report(config: pytest.Config, where: str, sent: dict[str, int]) -> None:
    """Show how many generated requests were sent (past pytest's output capture, even with -q)."""
    if not sent:
        return
    counts = ", ".join(f"{name} {count}" for name, count in sent.items())
    line = f"hostile input: {sum(sent.values())} generated requests sent {where} ({counts})"
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
