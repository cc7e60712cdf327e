"""The WSGI app gunicorn serves in part 4: the main app of ``$BENCH_FRAMEWORK``."""

from __future__ import annotations

import os

from .apps import build

app = build(os.environ.get("BENCH_FRAMEWORK", "raw"))["main"]
