"""The atheris fuzz target (``fuzz/fuzz_dispatch.py``) runs inputs.

atheris is in the test extra on Linux x86_64 (its only wheels); elsewhere these tests skip, but
never under ``CI=true``.

The fuzzing itself is not part of the test run (see docs/guide/limits.md, "Fuzzing"): atheris is an optional extra.
"""

from __future__ import annotations

import pytest
from gateways.harness import need_modules

INPUTS = [b"", b"\x00" * 64, bytes(range(256)) * 4, b"\xff" * 300, b"GET /i/21?x=1 " * 40]
INPUTS.append(bytes.fromhex("25d405917a0af8bc04ff002723000544"))  # its first crash: a LF in a 308's query string


@pytest.mark.parametrize("data", INPUTS)
def test_the_fuzz_target_runs_an_input(data: bytes) -> None:
    need_modules("atheris")  # wheels for Linux x86_64 only
    from fuzz.fuzz_dispatch import fuzz_one_input

    fuzz_one_input(data)  # raises on any wrong answer, as it does under the fuzzer
