"""The HOWTO's FastCGI test app: a table of every WSGI environ key and value, served through flup.

Run the FastCGI backend, then point a web server's FastCGI module at it::

    python examples/fastcgi_env.py --port 9000          # or --socket /tmp/fcgi.sock

(``pip install 'microweb[fastcgi]'`` installs flup. The README's Examples
section has the nginx location the tests use.) Every key and value is
HTML-escaped: headers come from the client, and an unescaped ``<script>`` in
one would run in the browser of whoever looks at the table.
"""

import argparse
import html

from microweb import App, request

app = App(__name__)


@app.get("/")
def environment() -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
        for key, value in sorted(request.environ.items())
    )
    return (
        "<!doctype html>\n<meta charset=utf-8>\n<title>FastCGI Environment</title>\n"
        f"<h1>FastCGI Environment</h1>\n<table>\n{rows}\n</table>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the environ table as a FastCGI backend (flup).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--socket", help="listen on this unix socket instead of host:port")
    args = parser.parse_args()
    options = {"socket": args.socket} if args.socket else {}
    app.run(server="fastcgi", host=args.host, port=args.port, **options)


if __name__ == "__main__":
    main()
