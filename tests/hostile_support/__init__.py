"""The hostile-input tests' app and request generators, shared by the in-process and gunicorn tests."""
