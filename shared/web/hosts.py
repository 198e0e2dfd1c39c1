"""Which Host headers the app answers to (FIGWAY_TRUSTED_HOSTS).

A redirect or a link built from an untrusted Host sends the browser to that host, so a
request naming any other host is refused. werkzeug's own TRUSTED_HOSTS check cannot match
an IPv6 literal such as [::1] (it cuts entries at the first colon): this one rule serves
the gateway and the Flask app instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A name or IPv4 address, or a bracketed IPv6 literal, then an optional port.
_HOST = re.compile(r"(?P<name>[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")


def split_host(value: str) -> tuple[str, int | None] | None:
    """("name", port or None) of a Host header value, lowercased; None if it is no host."""
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    name = match["name"]
    # "localhost." is "localhost": DNS's absolute form of the same name.
    return (name[:-1] if name.endswith(".") else name), (
        int(match["port"]) if match["port"] else None
    )


class TrustedHosts:
    """Exact names ("localhost", "[::1]"), ".example.com" for that name and every name under
    it, or "*" for any host (when a proxy in front already checks). Ports are ignored."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.any = False
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in patterns:
            pattern = raw.strip().lower()
            if pattern == "*":
                self.any = True
                continue
            parts = split_host(pattern.removeprefix("."))
            if parts is None:
                raise ValueError(f"not a host name: {raw!r}")
            names.add(parts[0])
            if pattern.startswith("."):
                suffixes.append(f".{parts[0]}")
        self.names = frozenset(names)
        self.suffixes = tuple(suffixes)

    def allows(self, host: str | None) -> bool:
        """Whether a request with this Host header may be answered. Without one (HTTP/1.0)
        every URL is built from the server's own address: nothing to refuse."""
        if host is None or self.any:
            return True
        parts = split_host(host)
        if parts is None:
            return False
        name = parts[0]
        return name in self.names or name.endswith(self.suffixes)
