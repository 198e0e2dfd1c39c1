"""What `figway verify` runs for the blog: `--scenarios blog.parity:SUITE`.

Each scenario is run twice, on fresh state: once with its route served by Flask, once by
its FastAPI twin; the answers (status, headers, cookies, JSON) and the rows left behind
must match, but for the fields named volatile.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from blog import store
from blog.gateway import make_gateway
from gateway.app import Gateway
from parity import Scenario, Step, Suite

PASSWORDS = {"ann": "ann-password", "bob": "bob-password"}
# Hashed once: every fresh state gets the very same rows on both sides.
USERS = {name: store.hash_password(password) for name, password in PASSWORDS.items()}
CREATED = "2025-01-01T00:00:00+00:00"


def login(name: str) -> Step:
    return Step("POST", "/login", form={"username": name, "password": PASSWORDS[name]})


def fresh(workdir: Path, manifest: Path) -> Gateway:
    """The blog on a new database: ann and bob, and a post by ann."""
    database = workdir / "blog.db"
    store.create(database, USERS)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute(store.INSERT_POST, (1, "Hello", "The first post.", CREATED))
    conn.close()
    return make_gateway(workdir, manifest)


def state(workdir: Path) -> dict[str, list[dict[str, object]]]:
    return store.rows(workdir / "blog.db")


ONE = "GET /api/posts/<int:post_id>"
ADD = "POST /api/posts"
DELETE = "DELETE /api/posts/<int:post_id>"
# A new post's creation time is the clock's: it may differ by a second between sides.
NEW_POST = ("created", "rows.posts.*.created")

SUITE = Suite(
    gateway=fresh,
    state=state,
    scenarios=(
        Scenario("GET /api/posts", "every post", "/api/posts"),
        Scenario(ONE, "one post", "/api/posts/1"),
        Scenario(ONE, "no such post", "/api/posts/999"),
        Scenario("GET /api/me", "anonymous", "/api/me"),
        Scenario("GET /api/me", "logged in", "/api/me", before=(login("bob"),)),
        Scenario(ADD, "anonymous", "/api/posts", json={"title": "t", "body": "b"}),
        Scenario(
            ADD,
            "creates",
            "/api/posts",
            json={"title": " Second ", "body": "More."},
            before=(login("bob"),),
            volatile=NEW_POST,
        ),
        Scenario(ADD, "no title", "/api/posts", json={"body": "b"}, before=(login("ann"),)),
        Scenario(ADD, "not JSON", "/api/posts", raw=b"{", before=(login("ann"),)),
        Scenario(
            ADD, "title too long", "/api/posts", json={"title": "x" * 201}, before=(login("ann"),)
        ),
        Scenario(DELETE, "anonymous", "/api/posts/1"),
        Scenario(DELETE, "own post", "/api/posts/1", before=(login("ann"),)),
        Scenario(DELETE, "someone else's", "/api/posts/1", before=(login("bob"),)),
        Scenario(DELETE, "no such post", "/api/posts/999", before=(login("ann"),)),
    ),
)
