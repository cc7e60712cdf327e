"""``python examples/wiki [--port 8000]``: the wiki on the development server."""

import argparse
import sys
from pathlib import Path

# Put examples/ in place of examples/wiki on the path, so that "wiki" imports as a package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from wiki import create_app  # noqa: E402

parser = argparse.ArgumentParser(
    description="Serve the wiki (DATABASE_URL, SECRET_KEY, WIKI_ADMINS, WIKI_API_ORIGINS from the environment)."
)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
args = parser.parse_args()
create_app().run(host=args.host, port=args.port)
