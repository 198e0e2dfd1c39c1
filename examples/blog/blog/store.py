"""The blog's data: the schema, its statements and the JSON shape of a post, written once.

The Flask side runs these statements with sqlite3, the twins with aiosqlite: the same
text, so the two sides cannot drift apart in what they read or write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from werkzeug.security import generate_password_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL
);
"""

LIST_POSTS = """
SELECT posts.id, title, body, created, users.username AS author
FROM posts JOIN users ON users.id = posts.author_id
ORDER BY posts.id DESC
"""
ONE_POST = """
SELECT posts.id, title, body, created, author_id, users.username AS author
FROM posts JOIN users ON users.id = posts.author_id
WHERE posts.id = ?
"""
INSERT_POST = "INSERT INTO posts (author_id, title, body, created) VALUES (?, ?, ?, ?)"
DELETE_POST = "DELETE FROM posts WHERE id = ?"
USER_BY_NAME = "SELECT id, username, password_hash FROM users WHERE username = ?"
INSERT_USER = "INSERT OR IGNORE INTO users (username, password_hash) VALUES (?, ?)"
USER_BY_ID = "SELECT id, username FROM users WHERE id = ?"

TITLE_MAX = 200
BODY_MAX = 10_000


class Record(Protocol):
    """A row by column name: sqlite3's and aiosqlite's Row alike."""

    def __getitem__(self, key: str) -> Any: ...


def post_json(row: Record) -> dict[str, Any]:
    """A post as the API answers it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "body": row["body"],
        "author": row["author"],
        "created": row["created"],
    }


def validate_post(data: object) -> tuple[dict[str, str] | None, str | None]:
    """(title and body, None) for a valid new post, else (None, the error message)."""
    if not isinstance(data, dict):
        return None, "a JSON object with title and body is required"
    title, body = data.get("title"), data.get("body", "")
    if not isinstance(title, str) or not title.strip():
        return None, "title is required"
    if not isinstance(body, str):
        return None, "body must be a string"
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        return None, f"title is at most {TITLE_MAX} characters, body at most {BODY_MAX}"
    return {"title": title.strip(), "body": body}, None


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create(path: Path, users: Mapping[str, str] | None = None) -> None:
    """The schema, and these users (name -> password hash) if they are not there yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executescript(SCHEMA)
            conn.executemany(INSERT_USER, (users or {}).items())
    finally:
        conn.close()


def rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by id: what a request left behind."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {
            table: [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]  # noqa: S608 - our own table names
            for table in ("users", "posts")
        }
    finally:
        conn.close()
