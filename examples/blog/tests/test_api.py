from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from conftest import Login


def add(client: httpx2.Client, title: str, body: str = "") -> httpx2.Response:
    return client.post("/api/posts", json={"title": title, "body": body})


def test_no_posts_yet(client: httpx2.Client) -> None:
    reply = client.get("/api/posts")
    assert reply.status_code == 200
    assert reply.json() == {"posts": []}


def test_a_new_post_is_listed_newest_first(client: httpx2.Client, login: Login) -> None:
    login(client, "ann")
    first = add(client, "One", "first")
    second = add(client, "  Two  ", "second")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["title"] == "Two"  # trimmed
    assert second.json()["author"] == "ann"
    listed = client.get("/api/posts").json()["posts"]
    assert [p["title"] for p in listed] == ["Two", "One"]
    one = client.get(f"/api/posts/{first.json()['id']}")
    assert one.json() == first.json()


def test_writing_needs_a_login(client: httpx2.Client) -> None:
    reply = add(client, "Nope")
    assert reply.status_code == 401
    assert reply.json() == {"error": "login required"}
    assert client.get("/api/posts").json() == {"posts": []}


def test_bad_posts_are_refused_and_not_written(client: httpx2.Client, login: Login) -> None:
    login(client, "ann")
    assert client.post("/api/posts", json={"body": "no title"}).json() == {
        "error": "title is required"
    }
    garbled = client.post("/api/posts", content=b"{", headers={"content-type": "application/json"})
    assert garbled.status_code == 400
    assert add(client, "x" * 201).status_code == 400
    assert client.get("/api/posts").json() == {"posts": []}


def test_missing_post(client: httpx2.Client) -> None:
    reply = client.get("/api/posts/42")
    assert reply.status_code == 404
    assert reply.json() == {"error": "no such post"}


def test_only_the_author_deletes(client: httpx2.Client, login: Login) -> None:
    login(client, "ann")
    post_id = add(client, "Ann's").json()["id"]
    client.post("/logout")
    login(client, "bob")
    refused = client.delete(f"/api/posts/{post_id}")
    assert refused.status_code == 403
    assert refused.json() == {"error": "not your post"}
    client.post("/logout")
    login(client, "ann")
    assert client.delete(f"/api/posts/{post_id}").status_code == 204
    assert client.get(f"/api/posts/{post_id}").status_code == 404


def test_me(client: httpx2.Client, login: Login) -> None:
    assert client.get("/api/me").status_code == 401
    login(client, "bob")
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == "bob"
    client.post("/logout")
    assert client.get("/api/me").status_code == 401
