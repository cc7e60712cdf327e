#!/usr/bin/env python3
"""The HOWTO's "simple script for testing CGI", rebuilt as a microweb app run as CGI.

The web server starts this script once per request, hands it the request in
environment variables (and the body on stdin), and sends on what it prints.
Try it by hand, as a web server would run it::

    REQUEST_METHOD=GET PATH_INFO=/ python examples/cgi_hello.py

Behind a real server, point a CGI alias at this file (see the manual's
Examples section for the lighttpd config the tests use).

Debug switch: ``CGI_HELLO_DEBUG=1`` shows tracebacks on error pages, like the
HOWTO's ``cgitb.enable()``. It is off by default because a traceback can show
confidential data (paths, settings, passwords) to anyone: use it only while
setting the script up, never in production. With the switch off, a failure is
a plain "500 Internal Server Error" page and the traceback goes to the web
server's error log (stderr).
"""

import os

from microweb import App, Response

app = App(__name__, debug=os.environ.get("CGI_HELLO_DEBUG") == "1")


@app.get("/")
def hello() -> Response:
    return Response("Hello World!\n", content_type="text/plain; charset=utf-8")


@app.get("/error")
def error() -> str:
    # A deliberate failure, to see what the debug switch changes.
    settings = {"database_password": "hunter2"}
    raise RuntimeError(f"something went wrong with {settings}")


if __name__ == "__main__":
    app.run(server="cgi")
