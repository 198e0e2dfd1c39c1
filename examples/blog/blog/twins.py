"""The FastAPI twins of the blog's JSON routes, on aiosqlite: nothing here blocks the loop.

Who is logged in comes from the Flask app's own session cookie, read through
`gateway.flask_session` (the gateway hands each request the Flask app's codec: its
SECRET_KEY, cookie name and flags, with no key passed here). Logging in and out stays on
the Flask side.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import aiosqlite
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from blog import store
from gateway.flask_session import FlaskSessionDep


def error(message: str, status: int) -> JSONResponse:
    """The Flask side's error shape."""
    return JSONResponse({"error": message}, status_code=status)


async def connection(request: Request) -> AsyncIterator[aiosqlite.Connection]:
    """A connection to the app's database for one request."""
    async with aiosqlite.connect(request.app.state.database) as conn:
        conn.row_factory = aiosqlite.Row
        yield conn


Db = Annotated[aiosqlite.Connection, Depends(connection)]


def create_api(database: Path) -> FastAPI:
    """The twins over the SQLite file `database` (the Flask app's DATABASE)."""
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    api.state.database = database

    @api.get("/api/posts")
    async def list_posts(db: Db) -> dict[str, Any]:
        async with db.execute(store.LIST_POSTS) as cursor:
            return {"posts": [store.post_json(r) async for r in cursor]}

    @api.get("/api/posts/{post_id:int}")
    async def get_post(post_id: int, db: Db) -> Any:
        async with db.execute(store.ONE_POST, (post_id,)) as cursor:
            row = await cursor.fetchone()
        return store.post_json(row) if row is not None else error("no such post", 404)

    @api.post("/api/posts")
    async def add_post(request: Request, session: FlaskSessionDep, db: Db) -> Any:
        user_id = session.get("user_id")
        if user_id is None:
            return error("login required", 401)
        try:
            payload = json.loads(await request.body())
        except ValueError:  # as Flask's get_json(silent=True): no JSON is None
            payload = None
        data, problem = store.validate_post(payload)
        if data is None:
            return error(problem or "invalid", 400)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = await db.execute(
            store.INSERT_POST, (user_id, data["title"], data["body"], created)
        )
        await db.commit()
        async with db.execute(store.ONE_POST, (cursor.lastrowid,)) as found:
            row = await found.fetchone()
        assert row is not None  # written just now, on this connection
        return JSONResponse(store.post_json(row), status_code=201)

    @api.delete("/api/posts/{post_id:int}")
    async def delete_post(post_id: int, session: FlaskSessionDep, db: Db) -> Response:
        user_id = session.get("user_id")
        if user_id is None:
            return error("login required", 401)
        async with db.execute(store.ONE_POST, (post_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return error("no such post", 404)
        if row["author_id"] != user_id:
            return error("not your post", 403)
        await db.execute(store.DELETE_POST, (post_id,))
        await db.commit()
        # Flask answers an empty 204 as text/html: a client sees the same header here.
        return Response(status_code=204, media_type="text/html")

    @api.get("/api/me")
    async def me(session: FlaskSessionDep, db: Db) -> Any:
        user_id = session.get("user_id")
        if user_id is None:
            return error("login required", 401)
        async with db.execute(store.USER_BY_ID, (user_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return error("login required", 401)
        return {"id": row["id"], "username": row["username"]}

    return api
