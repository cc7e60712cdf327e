"""Run Werkzeug's own tests of ``Request`` and ``Response`` with microweb's classes in their place.

``python tests/werkzeug_suite/run.py [PYTEST_ARGS ...]`` downloads the sdist of the
installed Werkzeug (its tests are not in the wheel) into a temporary folder, puts
``plugin.py`` in as its tests' ``conftest.py``, and runs the modules listed there
with this Python's pytest. The exit status is pytest's (2 when the download fails).
Nothing of Werkzeug's is kept in this repository.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

INI = """\
[pytest]
filterwarnings =
    error
    always::pytest.PytestUnraisableExceptionWarning
markers =
    dev_server: tests that start the dev server
    timeout: pytest-timeout's limit (not installed: no limit)
"""


def _sdist(version: str, into: Path) -> Path:
    """Werkzeug's sdist of ``version``, unpacked in ``into``; its top folder."""
    argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    done = subprocess.run([*argv, f"werkzeug=={version}", "-d", str(into)], capture_output=True, text=True)
    archives = sorted(into.glob("werkzeug-*.tar.gz"))
    if done.returncode or not archives:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise RuntimeError(f"pip download werkzeug=={version} failed: {why[0]}")
    with tarfile.open(archives[0]) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:  # Python without extraction filters: refuse members that leave the folder
            members = [m for m in archive.getmembers() if (m.isfile() or m.isdir()) and ".." not in m.name]
            archive.extractall(into, members=members)
    return next(path for path in into.iterdir() if path.is_dir())


def main(argv: list[str]) -> int:
    """Download, patch, run; pytest's exit status."""
    version = importlib.metadata.version("werkzeug")
    with tempfile.TemporaryDirectory(prefix="werkzeug-suite-") as folder:
        try:
            top = _sdist(version, Path(folder))
        except (RuntimeError, OSError, tarfile.TarError) as exc:
            print(f"run.py: {exc} (is PyPI reachable? pip download needs it)", file=sys.stderr)
            return 2
        shutil.copyfile(HERE / "plugin.py", top / "tests" / "conftest.py")
        (top / "pytest.ini").write_text(INI)
        sys.path.insert(0, str(HERE))
        from plugin import MODULES  # the list lives beside the exclusions

        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "pytest.ini", "--rootdir", "."]
        print(f"== Werkzeug {version}'s tests, with microweb's Request and Response", flush=True)
        return subprocess.run([*command, *MODULES, *argv], cwd=top).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
