#!@@PYTHON@@
"""The CGI script: the web server runs it once per request."""
import sys

sys.path.insert(0, "@@APPDIR@@")

from gwapp import app  # noqa: E402

app.run(server="cgi")
