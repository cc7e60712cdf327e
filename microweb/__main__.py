"""``python -m microweb``: the command line."""

from .cli import main

raise SystemExit(main())
