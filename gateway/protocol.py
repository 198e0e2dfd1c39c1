"""uvicorn's httptools protocol with the two limits it lacks: the size of a request head
(431 past it) and the time a request head may take to arrive (the connection is closed).

httptools buffers a header line until it ends, however long, and uvicorn waits for a head
however slowly it trickles in: a 64 MB header was read in full, and a client sending one
header line every few seconds held its connection for ever. The normal path stays
httptools' own; per request this adds a timer (as uvicorn's keep-alive does) and a few
additions in the parser callbacks.

Served through uvicorn's protocol extension point: `http=` takes a protocol class. The
limits are bound with functools.partial, which pickles, so `--workers N` gets them too.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from shared.config import Settings
from shared.errors import HeadersTooLarge
from shared.web.headers import EVERY_RESPONSE

log = logging.getLogger("figway.server")
# After a 431, how long the rest of the head is read and dropped before the connection
# closes: closing on unread bytes sends a reset, which loses the 431 on its way (nginx's
# lingering close).
LINGER_S = 2.0


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int  # request line and header fields
    timeout_s: float  # from the connection (or the head's first byte) to the head's end

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(settings.max_header_bytes, settings.header_timeout_s)


def protocol_class(settings: Settings) -> type[asyncio.Protocol]:
    """What to pass as uvicorn's `http=`."""
    bound = functools.partial(LimitedHttpToolsProtocol, limits=HeadLimits.from_settings(settings))
    # A partial is called as uvicorn calls a class (keyword arguments): uvicorn types the
    # option as a class only.
    return bound  # type: ignore[return-value]


class _HeadTooLarge(Exception):
    """Raised in a parser callback; httptools hands it back as the cause of its error."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._max_bytes = limits.max_bytes
        self._head_pending = False  # a request head has begun and not ended
        self._heads = 0  # heads begun on this connection
        # Two lower bounds of the pending head's size; either past the limit is a 431.
        self._parsed_bytes = 0  # what the parser callbacks saw (URL, finished headers)
        self._raw_bytes = 0  # chunks that held nothing but this head
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False  # answered 431: what still arrives is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # the first head must arrive in time, from the first byte on

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # A chunk that arrives with a head pending and leaves that same head pending is
        # head bytes only: counted here, as httptools buffers an unfinished header line out
        # of the callbacks' sight (a header never ended would otherwise grow unbounded).
        if self._refused:
            return
        inside_head, heads = self._head_pending, self._heads
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if inside_head and self._head_pending and self._heads == heads:
            self._raw_bytes += len(data)
            if self._raw_bytes > self._max_bytes:
                self._refuse_head()

    # Parser callbacks: count the head as it is parsed.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_pending = True
        self._heads += 1
        self._parsed_bytes = self._raw_bytes = 0
        self._arm_head_timer()  # on a kept-alive connection, from the head's first byte

    # These two run per header: the check is inline, not a call (a third of the cost).
    def on_url(self, url: bytes) -> None:
        self._parsed_bytes += len(url)
        if self._parsed_bytes > self._max_bytes:
            raise _HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._parsed_bytes > self._max_bytes:
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._disarm_head_timer()
        super().on_headers_complete()

    # The limits' answers.

    def _refuse_head(self) -> None:
        """431 in the legacy shape, then close: the rest of the head is never parsed."""
        self._head_pending = False
        self._refused = True
        self._disarm_head_timer()
        body = json.dumps(HeadersTooLarge().body()).encode()
        lines = [STATUS_LINE[HeadersTooLarge.status]]
        for name, value in [*self.server_state.default_headers, *_HEADERS]:
            lines += [name, b": ", value, b"\r\n"]
        lines += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(lines))
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the 431 to its end, then leaves
        self.loop.call_later(LINGER_S, self.transport.close)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            # Debug only: a slow-header attack would otherwise write a line per connection.
            log.debug("closed a connection: no request head in %ss", self.limits.timeout_s)
            self.transport.close()


_HEADERS = [(k.lower().encode(), v.encode()) for k, v in EVERY_RESPONSE]
