"""A test client with Flask's API that sends each request into an ASGI app, without
werkzeug: how the legacy suite talks to the FastAPI app served alone (the Flask-free run,
FIGWAY_TEST_FLASK_FREE=1), where neither Flask nor werkzeug is installed.

The legacy suite was written against Flask's test client: `client.post(path, json=...,
headers=..., data=..., query_string=..., content_type=..., buffered=...)`, answers read with
`status_code`, `get_json()`, `get_data(as_text=True)`, `headers.getlist(...)`, and the
cookie jar with `get_cookie`/`set_cookie`. This module keeps that API, so the same test
functions run unchanged against Flask (pass 1), the gateway (pass 2) and FastAPI alone.

`AsgiServer` plays the HTTP server's part: the app runs on an event loop thread of its own
(its lifespan started, as uvicorn starts it), each request is the scope a server would
build, the body is read lazily, and closing an answer early tells the app the client hung
up (`http.disconnect`), as a server does.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.cookies import SimpleCookie
from io import BytesIO
from queue import Queue
from typing import IO, Any
from urllib.parse import quote, unquote, urlencode, urlsplit
from uuid import uuid4

from starlette.types import ASGIApp, Message

HOST = "localhost"
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))
# A request's answer is awaited this long at most: a test that hangs fails instead.
ANSWER_TIMEOUT_S = 60


# --- the server ---------------------------------------------------------------------------


class AsgiServer:
    """An ASGI app on an event loop thread, started and stopped as a server does it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="asgi-server")
        self._thread.daemon = True
        self._thread.start()
        self._lifespan = _Lifespan(app)
        asyncio.run_coroutine_threadsafe(self._lifespan.start(), self.loop).result(30)

    def stop(self) -> None:
        async def stop() -> None:
            await self._lifespan.stop()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def request(self, scope: dict[str, Any], body: bytes) -> Answer:
        """Send one request; the answer's status and headers are in, its body follows as
        the app sends it (`Answer.chunks`)."""
        return call(self.app, self.loop, scope, body)


class _Lifespan:
    """The ASGI lifespan protocol, as a server runs it: startup before the first request,
    shutdown at the end (the FastAPI app starts its download runner and pools there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        await self._started.wait()

    async def stop(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._stopped.wait()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._inbox.get()

        async def send(message: Message) -> None:
            if message["type"].startswith("lifespan.startup."):
                if message["type"].endswith(".failed"):
                    raise RuntimeError(f"the app failed to start: {message.get('message')}")
                self._started.set()
            elif message["type"].startswith("lifespan.shutdown."):
                self._stopped.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await self.app(scope, receive, send)
        finally:
            self._started.set()
            self._stopped.set()


@dataclass
class Answer:
    """What the app sent: the start at once, the body as it comes; `close()` before the end
    is the client hanging up."""

    status: int
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes]
    close: Any  # () -> None


def call(
    app: ASGIApp, loop: asyncio.AbstractEventLoop, scope: dict[str, Any], body: bytes
) -> Answer:
    """Run one HTTP request of `app` on `loop` (a thread's), from the calling thread."""
    sent: Queue[Message | BaseException | None] = Queue()
    hung_up: Future[None] = Future()
    request_read = False

    async def receive() -> Message:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.wrap_future(hung_up)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.put(message)

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except BaseException as exc:  # hand it to the test thread, as a server logs it
            sent.put(exc)
        finally:
            sent.put(None)

    done = asyncio.run_coroutine_threadsafe(run(), loop)
    finished = False

    def next_message() -> Message | None:
        message = sent.get(timeout=ANSWER_TIMEOUT_S)
        if isinstance(message, BaseException):
            raise message
        return message

    def close() -> None:
        nonlocal finished
        if finished:
            return
        finished = True
        # Closed early or finished: the client hangs up, as a server would report it.
        loop.call_soon_threadsafe(_resolve, hung_up)
        done.result(30)

    start = next_message()
    while start is not None and start["type"] != "http.response.start":
        start = next_message()  # e.g. http.response.debug: nothing a client sees
    if start is None:
        close()
        raise RuntimeError("the app ended the request without answering")

    def chunks() -> Iterator[bytes]:
        try:
            while (message := next_message()) is not None:
                if message["type"] != "http.response.body":
                    continue
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    break
        finally:
            close()

    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
    return Answer(start["status"], headers, chunks(), close)


def _resolve(future: Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# --- the answer, as Flask's test client gives it -------------------------------------------


class Headers:
    """The answer's headers: werkzeug's Headers API as the suite reads it (case-insensitive,
    several values per name)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = list(items)

    def get(self, name: str, default: Any = None, type: Any = None) -> Any:
        for key, value in self._items:
            if key.lower() == name.lower():
                return type(value) if type is not None else value
        return default

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._items if k.lower() == name.lower()]

    get_all = getlist

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return str(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Response:
    """An answer as werkzeug's TestResponse shows it: read in full unless `buffered=False`,
    where `response` is the body's iterator and `close()` hangs up."""

    def __init__(self, answer: Answer, buffered: bool, request_path: str) -> None:
        self.status_code = answer.status
        self.status = f"{answer.status} {reason(answer.status)}"
        self.headers = Headers(answer.headers)
        self.request_path = request_path
        self._answer = answer
        self._data: bytes | None = None
        if buffered:
            self._data = b"".join(answer.chunks)
            answer.close()
        self.response: Iterator[bytes] = iter([self._data]) if buffered else answer.chunks  # type: ignore[list-item]

    def close(self) -> None:
        self._answer.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = b"".join(self._answer.chunks)
            self._answer.close()
        return self._data

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode("utf-8") if as_text else self.data

    @property
    def text(self) -> str:
        return str(self.get_data(as_text=True))

    @property
    def content_type(self) -> str | None:
        value: str | None = self.headers.get("Content-Type")
        return value

    @property
    def mimetype(self) -> str | None:
        value = self.content_type
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None else None

    @property
    def location(self) -> str | None:
        value: str | None = self.headers.get("Location")
        return value

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype or ""
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        # werkzeug's rule: None unless the answer says it is JSON.
        if not (force or self.is_json):
            return None
        try:
            return jsonlib.loads(self.data)
        except ValueError:
            if not silent:
                raise
            return None

    @property
    def json(self) -> Any:
        return self.get_json()


# --- the cookie jar ------------------------------------------------------------------------


@dataclass
class Cookie:
    """A cookie the client holds, with the attributes werkzeug's `get_cookie` gives."""

    key: str
    value: str
    domain: str = HOST
    path: str = "/"
    expires: datetime | None = None
    max_age: int | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None

    @property
    def decoded_key(self) -> str:
        return self.key

    @property
    def decoded_value(self) -> str:
        return self.value

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now

    def applies_to(self, path: str) -> bool:
        prefix = self.path.rstrip("/")
        return path == self.path or path.startswith(prefix + "/") or not prefix


def _parse_set_cookie(header: str, now: datetime) -> Cookie | None:
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(header)
    for morsel in parsed.values():
        cookie = Cookie(
            morsel.key,
            morsel.value,
            domain=(morsel["domain"] or HOST).lstrip("."),
            path=morsel["path"] or "/",
            secure=bool(morsel["secure"]),
            http_only=bool(morsel["httponly"]),
            same_site=morsel["samesite"] or None,
        )
        if morsel["max-age"]:
            cookie.max_age = int(morsel["max-age"])
            cookie.expires = now + timedelta(seconds=cookie.max_age)
        elif morsel["expires"]:
            cookie.expires = parsedate_to_datetime(morsel["expires"])
        return cookie
    return None


# --- the client ----------------------------------------------------------------------------


@dataclass
class Client:
    """Flask's test client API over an AsgiServer: what the suite calls on `client`."""

    server: AsgiServer
    application: Any = None  # what made it (Flask's client names its app so)
    use_cookies: bool = True
    # Called once per request sent (the Flask-free `app` counts them, as the gateway's does).
    on_request: Callable[[], None] = lambda: None
    cookies: dict[tuple[str, str, str], Cookie] = field(default_factory=dict)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="GET", **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="POST", **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="PUT", **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="PATCH", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="DELETE", **kwargs)

    def head(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="HEAD", **kwargs)

    def options(self, path: str, **kwargs: Any) -> Response:
        return self.open(path, method="OPTIONS", **kwargs)

    def open(
        self,
        path: str,
        method: str = "GET",
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        json: Any = None,
        data: Any = None,
        query_string: Mapping[str, Any] | str | bytes | None = None,
        content_type: str | None = None,
        buffered: bool = True,
        follow_redirects: bool = False,
        environ_base: Mapping[str, str] | None = None,
    ) -> Response:
        url = urlsplit(path)
        # As werkzeug's client sends it: printable ASCII as written, the rest escaped.
        query = quote(url.query, safe=_PRINTABLE).encode("latin-1")
        if query_string is not None:
            query = _query(query_string)
        sent = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        body, body_type = _body(json, data)
        if (body_type and body_type.startswith("multipart/")) or not content_type:
            content_type = body_type  # the encoder's own, with its boundary (as werkzeug's)
        if content_type and not any(k.lower() == "content-type" for k, _ in sent):
            sent.append(("Content-Type", content_type))
        if body or method in ("POST", "PUT", "PATCH"):
            sent.append(("Content-Length", str(len(body))))
        now = datetime.now(UTC)
        jar = [c for c in self.cookies.values() if not c.expired(now) and c.applies_to(url.path)]
        if jar and not any(k.lower() == "cookie" for k, _ in sent):
            sent.append(("Cookie", "; ".join(f"{c.key}={c.value}" for c in jar)))
        client_addr = (environ_base or {}).get("REMOTE_ADDR", "127.0.0.1")
        self.on_request()
        answer = self.server.request(_scope(method, url.path, query, sent, client_addr), body)
        response = Response(answer, buffered, url.path)
        for header in response.headers.getlist("Set-Cookie") if self.use_cookies else ():
            self._keep(header, now)
        if follow_redirects and response.status_code in (301, 302, 303, 307, 308):
            response.close()
            target = urlsplit(response.location or "/")
            again = method if response.status_code in (307, 308) else "GET"
            path = target.path + (f"?{target.query}" if target.query else "")
            return self.open(path, method=again, headers=headers, follow_redirects=True)
        return response

    def _keep(self, header: str, now: datetime) -> None:
        cookie = _parse_set_cookie(header, now)
        if cookie is None:
            return
        key = (cookie.domain, cookie.path, cookie.key)
        if cookie.expired(now) or cookie.max_age == 0:
            self.cookies.pop(key, None)
        else:
            self.cookies[key] = cookie

    def get_cookie(self, key: str, domain: str = HOST, path: str = "/") -> Cookie | None:
        return self.cookies.get((domain, path, key))

    def set_cookie(
        self, key: str, value: str = "", *, domain: str = HOST, path: str = "/", **_: Any
    ) -> None:
        self.cookies[(domain, path, key)] = Cookie(key, value, domain=domain, path=path)

    def delete_cookie(self, key: str, *, domain: str = HOST, path: str = "/", **_: Any) -> None:
        self.cookies.pop((domain, path, key), None)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _query(query_string: Mapping[str, Any] | str | bytes) -> bytes:
    if isinstance(query_string, bytes):
        return query_string
    if isinstance(query_string, str):
        return query_string.encode("latin-1")
    return urlencode(list(_pairs(query_string)), doseq=True).encode("latin-1")


def _pairs(values: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, list | tuple) and not _is_file(value):
            for item in value:
                yield key, item
        else:
            yield key, value


def _is_file(value: Any) -> bool:
    return (isinstance(value, tuple) and value and hasattr(value[0], "read")) or hasattr(
        value, "read"
    )


def _body(json: Any, data: Any) -> tuple[bytes, str | None]:
    """The request body and its type, as Flask's test client encodes json= and data=."""
    if json is not None:
        return jsonlib.dumps(json).encode("utf-8"), "application/json"
    if data is None:
        return b"", None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    if hasattr(data, "read"):
        return data.read(), None
    pairs = list(_pairs(data))
    if any(_is_file(value) for _, value in pairs):
        return multipart(pairs)
    return urlencode(pairs).encode("utf-8"), "application/x-www-form-urlencoded"


def multipart(pairs: list[tuple[str, Any]]) -> tuple[bytes, str]:
    """multipart/form-data of fields and files (a file is (stream, filename[, type])), and
    its content type. Names are written as werkzeug's encoder writes them: UTF-8, unquoted."""
    boundary = f"----figway{uuid4().hex}"
    out = BytesIO()
    for name, value in pairs:
        out.write(f"--{boundary}\r\n".encode())
        if _is_file(value):
            stream, filename, kind = _file_parts(value)
            out.write(
                f'Content-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
            )
            out.write(stream.read())
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(str(value).encode("utf-8"))
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _file_parts(value: Any) -> tuple[IO[bytes], str, str]:
    if isinstance(value, tuple):
        stream, filename, *rest = value
        return stream, filename, rest[0] if rest else "application/octet-stream"
    return value, getattr(value, "name", "file"), "application/octet-stream"


def _scope(
    method: str, path: str, query: bytes, headers: list[tuple[str, str]], client: str
) -> dict[str, Any]:
    """The ASGI scope a server builds for this request."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k == b"host" for k, _ in raw):
        raw.insert(0, (b"host", HOST.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        # As a server gets it: the path percent-decoded (UTF-8), raw_path as sent.
        "path": unquote(path),
        "raw_path": quote(path, safe="/%:@!$&'()*+,;=").encode("latin-1"),
        "query_string": query,
        "root_path": "",
        "headers": raw,
        "client": (client, 0),
        "server": (HOST, 80),
    }
