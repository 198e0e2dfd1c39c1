"""The blog as it was: a Flask app with pages and a small JSON API, on sqlite3."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flask import (
    Flask,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from blog import store

DEFAULT_DIR = "instance"  # where the database lives unless BLOG_DIR says otherwise

PAGE = """<!doctype html>
<title>{{ title }} - blog</title>
<nav>{% if user %}{{ user }} <form method=post action="/logout"><button>log out</button></form>
{% else %}<a href="/login">log in</a>{% endif %}</nav>
{% for message in messages %}<p class=flash>{{ message }}</p>{% endfor %}
{% if posts is defined %}{% for post in posts %}
<article><h2>{{ post.title }}</h2><p>by {{ post.author }}</p><p>{{ post.body }}</p></article>
{% else %}<p>No posts yet.</p>{% endfor %}{% endif %}
{% if login_form %}<form method=post><input name=username><input name=password type=password>
<button>log in</button></form>{% endif %}
"""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app; `config` overrides (DATABASE: the SQLite file, SECRET_KEY)."""
    app = Flask(__name__, static_folder=None)
    folder = Path(os.environ.get("BLOG_DIR", DEFAULT_DIR))
    app.config.update(
        SECRET_KEY=os.environ.get("BLOG_SECRET_KEY", "dev-only-blog-key"),
        DATABASE=str(folder / "blog.db"),
    )
    app.config.update(config or {})
    store.create(Path(app.config["DATABASE"]))

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(app.config["DATABASE"])
            g.db.row_factory = sqlite3.Row
        conn: sqlite3.Connection = g.db
        return conn

    @app.teardown_appcontext
    def close_db(_exc: BaseException | None) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    def error(message: str, status: int) -> tuple[dict[str, str], int]:
        return {"error": message}, status

    def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if session.get("user_id") is None:
                return error("login required", 401)
            return view(**kwargs)

        return wrapped

    def page(title: str, **context: Any) -> str:
        return render_template_string(
            PAGE,
            title=title,
            user=session.get("username"),
            messages=get_flashed_messages(),
            **context,
        )

    @app.cli.command("add-user")
    @click.argument("username")
    @click.password_option()
    def add_user(username: str, password: str) -> None:
        """Add an account (`flask --app blog.legacy:create_app add-user NAME`)."""
        store.create(Path(app.config["DATABASE"]), {username: store.hash_password(password)})
        click.echo(f"added {username}")

    @app.get("/")
    def index() -> str:
        posts = [store.post_json(r) for r in db().execute(store.LIST_POSTS)]
        return page("Posts", posts=posts)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            return page("Log in", login_form=True)
        name = request.form.get("username", "")
        user = db().execute(store.USER_BY_NAME, (name,)).fetchone()
        if user is None or not check_password_hash(
            user["password_hash"], request.form.get("password", "")
        ):
            flash("Wrong username or password")
            return page("Log in", login_form=True), 401
        session.clear()
        session["user_id"] = user["id"]
        session["username"] = user["username"]
        flash(f"Welcome back, {user['username']}")
        return redirect(url_for("index"))

    @app.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect(url_for("index"))

    @app.get("/api/posts")
    def list_posts() -> dict[str, Any]:
        return {"posts": [store.post_json(r) for r in db().execute(store.LIST_POSTS)]}

    @app.get("/api/posts/<int:post_id>")
    def get_post(post_id: int) -> Any:
        row = db().execute(store.ONE_POST, (post_id,)).fetchone()
        return store.post_json(row) if row is not None else error("no such post", 404)

    @app.post("/api/posts")
    @login_required
    def add_post() -> Any:
        data, problem = store.validate_post(request.get_json(silent=True))
        if data is None:
            return error(problem or "invalid", 400)
        conn = db()
        created = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = conn.execute(
            store.INSERT_POST, (session["user_id"], data["title"], data["body"], created)
        )
        conn.commit()
        row = conn.execute(store.ONE_POST, (cursor.lastrowid,)).fetchone()
        return store.post_json(row), 201

    @app.delete("/api/posts/<int:post_id>")
    @login_required
    def delete_post(post_id: int) -> Any:
        conn = db()
        row = conn.execute(store.ONE_POST, (post_id,)).fetchone()
        if row is None:
            return error("no such post", 404)
        if row["author_id"] != session["user_id"]:
            return error("not your post", 403)
        conn.execute(store.DELETE_POST, (post_id,))
        conn.commit()
        return "", 204

    @app.get("/api/me")
    @login_required
    def me() -> Any:
        row = db().execute(store.USER_BY_ID, (session["user_id"],)).fetchone()
        if row is None:  # the account is gone: the session is stale
            return error("login required", 401)
        return {"id": row["id"], "username": row["username"]}

    return app
