# The mod_wsgi script file: the app's settings, then `application`. Apache's SetEnv would reach only
# each request's environ, too late for settings read at import; so they are set here, and this file
# is readable by root and www-data only.
import os

os.environ["SECRET_KEY"] = "@@SECRET_KEY@@"
os.environ["DATABASE_URL"] = "sqlite:///@@G@@/data/app.sqlite3"

from gwapp import app as application  # noqa: E402,F401
