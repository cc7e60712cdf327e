# The mod_wsgi script file: it only has to provide `application`.
from gwapp import app as application  # noqa: F401
