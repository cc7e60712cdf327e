"""The smallest microweb app: ``python examples/hello.py``, then open http://127.0.0.1:8000/."""

from microweb import App, request

app = App(__name__)


@app.get("/")
def index() -> str:
    name = request.args.get("name", "world")
    return f"<h1>Hello, {name}!</h1>" if name.isalnum() else "<h1>Hello!</h1>"


@app.get("/hello/<name>")
def hello(name: str) -> dict[str, str]:
    return {"greeting": f"Hello, {name}!"}


if __name__ == "__main__":
    app.run()
