"""A coverage-guided fuzz target (atheris) for microweb's dispatch path.

Each input becomes one request (method, a route with fuzzed segments, raw query string, headers,
Content-Type, body and a Content-Length that may lie), sent through ``wsgiref.validate`` to the
hostile-input tests' app, with and without hooks. A crash is any exception: a 5xx, a traceback or
exception name in a body, an error logged by microweb, a broken WSGI exchange, a file left open, or
a known request answered wrongly afterwards. See the manual's limits page (docs/guide/limits.md), "Fuzzing"::

    pip install -e '.[test,fuzz]'
    python fuzz/fuzz_dispatch.py -max_total_time=300     # any libFuzzer option; Ctrl-C to stop

Without a corpus argument, the corpus is ``fuzz/corpus/`` and crashing inputs go to
``fuzz/artifacts/``, both kept out of git.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the hostile-input tests' helpers

from hostile_support.app import create_app  # noqa: E402
from hostile_support.checks import call, check_answer, check_still_answers  # noqa: E402
from hostile_support.generate import (  # noqa: E402
    CONTENT_LENGTHS,
    CONTENT_TYPES,
    HEADER_CHOICES,
    METHODS,
    ROUTES,
    HostileRequest,
    environ,
)

HERE = Path(__file__).resolve().parent
APPS = [create_app(), create_app(hooks=True)]
HEADER_NAMES = sorted(HEADER_CHOICES) + ["X-Anything"]
ROUTE_PATHS = [path for path, _, _ in ROUTES]
CONTENT_TYPE_NAMES = sorted(CONTENT_TYPES)
#: What went wrong outside the exchange itself: errors logged by microweb, exceptions in __del__.
PROBLEMS: list[str] = []


class _Problems(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        PROBLEMS.append(record.getMessage())


def _unraisable(unraisable: Any, problems: list[str] = PROBLEMS) -> None:
    # Bound as a default: at interpreter exit the module's globals may be gone already.
    problems.append(f"{unraisable.exc_type} in {unraisable.object!r}")  # e.g. an unclosed upload


def request_from(fdp: Any) -> HostileRequest:
    """A request made of the fuzzer's bytes (``fdp``: an ``atheris.FuzzedDataProvider``)."""
    method = fdp.PickValueInList(METHODS)
    path = fdp.PickValueInList(ROUTE_PATHS)
    while "{}" in path:
        path = path.replace("{}", fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16)).decode("latin-1"), 1)
    target = path + "?" + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 32)).decode("latin-1").replace("#", "")
    headers = [
        (fdp.PickValueInList(HEADER_NAMES), fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 32)).decode("latin-1"))
        for _ in range(fdp.ConsumeIntInRange(0, 4))
    ]
    content_type = fdp.PickValueInList(CONTENT_TYPE_NAMES)
    if content_type:
        headers.append(("Content-Type", content_type))
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    wrong = fdp.PickValueInList([None, None, None, *CONTENT_LENGTHS])
    length = {None: str(len(body)), "bigger": str(len(body) + 10), "smaller": str(max(len(body) - 3, 0))}.get(
        wrong, wrong
    )
    return HostileRequest(method, target, headers, body, None if wrong == "missing" else length)


def fuzz_one_input(data: bytes) -> None:
    """One fuzz input: raises (a crash, for atheris) if microweb's answer is wrong in any way."""
    import atheris

    req = request_from(atheris.FuzzedDataProvider(data))
    for app in APPS:
        env, lax = environ(req)
        status, headers, body = call(app, env, lax)
        check_answer(req, status, headers, body)
        check_still_answers(app)
    if PROBLEMS:
        problems = list(PROBLEMS)
        PROBLEMS.clear()
        raise AssertionError(f"{problems} for {req!r}")


def main() -> None:
    """Instrument microweb and Werkzeug for coverage, then fuzz with libFuzzer's command-line options."""
    import atheris

    argv = sys.argv
    if all(arg.startswith("-") for arg in argv[1:]):  # no corpus given: the one beside this file
        for folder in ("corpus", "artifacts"):
            (HERE / folder).mkdir(exist_ok=True)
        argv = [argv[0], str(HERE / "corpus"), f"-artifact_prefix={HERE / 'artifacts'}/", *argv[1:]]
    logging.getLogger("microweb").addHandler(_Problems(logging.ERROR))
    sys.unraisablehook = _unraisable
    atheris.instrument_all()
    atheris.Setup(argv, fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
