"""Test helpers: a Werkzeug test client that closes every response for you, and a runner for the command."""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

from werkzeug.test import Client, TestResponse

__all__ = ["CliResult", "CliRunner", "TestClient"]


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


@dataclass(frozen=True)
class CliResult:
    """What one ``microweb`` command did: its exit status and what it printed."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """What the command printed on stdout."""
        return self.stdout


class CliRunner:
    """Runs the ``microweb`` command in this process on an app object: ``runner.invoke("routes")``.

    The command line names no ``MODULE:APP``: the command runs on ``app``. Output is
    captured; an exception the command does not turn into an exit status propagates.
    """

    __test__ = False

    def __init__(self, app: Any) -> None:
        self.app = app

    def invoke(self, args: str | Sequence[str] = ()) -> CliResult:
        """Run ``microweb ARGS`` (a string is split as a shell would) and return what it did."""
        from .cli import main  # the command imports the server adapters: only when a test runs it

        argv = shlex.split(args) if isinstance(args, str) else list(args)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv, app=self.app)
            except SystemExit as exc:  # argparse ends --help and a bad command line so
                code = _exit_status(exc.code, err)
        return CliResult(code, out.getvalue(), err.getvalue())


def _exit_status(code: str | int | None, err: io.StringIO) -> int:
    """The status a process would exit with for ``SystemExit(code)``."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=err)
    return 1
