"""Where a download may connect: never to the server's own networks (SSRF).

A video's url is set by managers and fetched by the server for any user, so without this a
url (or a redirect from it) could read a loopback admin port, an internal service or the
cloud metadata endpoint, and anyone could then stream what came back.

The check sits where the socket is opened, after name resolution, on the very address
connected to: the first request and every redirect yt-dlp follows open their connections
there, and a name that resolves differently between a check and the connect (DNS
rebinding) cannot slip past, because the checked address is the one used. yt-dlp is given
a request handler of ours (its RequestHandler API, through YoutubeDL.build_request_director)
as its only one, so no request of the download goes any other way.

Imported by the download job only when it runs: it pulls in yt-dlp, which is slow to import.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util.connection import create_connection
from yt_dlp import YoutubeDL
from yt_dlp.networking.common import Request, RequestHandler, Response
from yt_dlp.networking.exceptions import (
    CertificateVerifyError,
    HTTPError,
    RequestError,
    SSLError,
    TransportError,
)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_SETTING = "FIGWAY_DOWNLOAD_ALLOW_HOSTS"
# Cloud metadata services: most clouds, AWS over IPv6, Alibaba Cloud. Named apart in the
# message: the other ranges refuse them as well.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
MAX_REDIRECTS = 10


class AddressRefused(Exception):
    """A connection the policy refuses. Not an OSError on purpose: urllib3 retries those and
    the job would call it transient; a refusal is final."""


class DownloadRefused(RequestError):  # type: ignore[misc]  # yt-dlp has no type hints
    """The refusal as yt-dlp's handlers report errors (a RequestError)."""


def refusal(ip: IP) -> str | None:
    """Why a download may not connect to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "non-public"
    return None


@dataclass(frozen=True)
class FetchPolicy:
    """Public addresses only, but for the hosts listed ("host" or "host:port")."""

    allow_hosts: frozenset[str]

    @classmethod
    def of(cls, hosts: Iterable[str]) -> FetchPolicy:
        return cls(frozenset(h.strip().lower() for h in hosts if h.strip()))

    def allows(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]").rstrip(".")
        shown = f"[{host}]" if ":" in host else host
        return bool({host, shown, f"{shown}:{port}"} & self.allow_hosts)

    def connect(self, host: str, port: int, timeout: Any, **options: Any) -> socket.socket:
        """A connected socket to a permitted address of host:port, or AddressRefused."""
        if self.allows(host, port):
            return create_connection((host, port), timeout, **options)
        addresses = []
        for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            reason = refusal(ip)
            if reason is not None:  # one bad address refuses the name: no picking around it
                raise AddressRefused(
                    f"Refused to download from {host}: it resolves to {ip}, a {reason} "
                    f"address (list the host in {ALLOW_SETTING} to allow it)"
                )
            addresses.append(str(ip))
        error: OSError | None = None
        for address in addresses:
            try:
                return create_connection((address, port), timeout, **options)
            except OSError as exc:
                error = exc
        raise error or OSError(f"no address for {host}")


def guarded_youtubedl(policy: FetchPolicy, params: dict[str, Any]) -> YoutubeDL:
    """A YoutubeDL whose every request goes through GuardedRH under `policy`."""
    return _GuardedYoutubeDL(policy, params)


class _GuardedYoutubeDL(YoutubeDL):  # type: ignore[misc]  # yt-dlp has no type hints
    def __init__(self, policy: FetchPolicy, params: dict[str, Any]) -> None:
        self._policy = policy
        super().__init__(params)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        # Ours instead of yt-dlp's registered handlers (urllib, requests, websockets...).
        guarded = functools.partial(GuardedRH, policy=self._policy)
        return super().build_request_director([guarded], preferences)


class GuardedRH(RequestHandler):  # type: ignore[misc]
    """HTTP(S) through requests, with every connection opened by the policy. No proxies: a
    proxy would connect for us, past the check."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()
    _SUPPORTED_FEATURES = ()
    RH_NAME = "figway-guarded"

    def __init__(self, *, policy: FetchPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = requests.Session()
        self._session.headers.clear()
        self._session.trust_env = False  # proxies from the environment would bypass the check
        self._session.max_redirects = MAX_REDIRECTS
        adapter = _GuardedAdapter(policy)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for supported in ("cookiejar", "timeout", "keep_header_casing"):
            extensions.pop(supported, None)
        if not extensions.get("legacy_ssl"):
            extensions.pop("legacy_ssl", None)  # asked for, it stays in: unsupported

    def close(self) -> None:
        self._session.close()

    def _send(self, request: Request) -> Response:
        headers = self._get_headers(request)
        # Bytes as sent: no decoding layer between the server and the file.
        headers["Accept-Encoding"] = "identity"
        self._session.cookies = self._get_cookiejar(request)
        redirect_loop = False
        try:
            answer = self._session.request(
                method=request.method,
                url=request.url,
                data=request.data,
                headers=headers,
                timeout=self._calculate_timeout(request),
                allow_redirects=True,
                stream=True,
                verify=self.verify,
            )
        except AddressRefused as exc:
            raise DownloadRefused(str(exc)) from exc
        except requests.TooManyRedirects as exc:
            if exc.response is None:
                raise RequestError(cause=exc) from exc
            redirect_loop, answer = True, exc.response
        except requests.exceptions.SSLError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise CertificateVerifyError(cause=exc) from exc
            raise SSLError(cause=exc) from exc
        except (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError) as exc:
            raise TransportError(cause=exc) from exc
        except requests.RequestException as exc:
            raise RequestError(cause=exc) from exc
        response = Response(
            answer.raw, answer.url, answer.headers, answer.status_code, answer.reason
        )
        if not 200 <= response.status < 300:
            raise HTTPError(response, redirect_loop=redirect_loop)
        return response


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connection pools open their sockets through the policy."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy  # before super().__init__, which makes the pool manager
        super().__init__(max_retries=0)  # yt-dlp retries by itself

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools(self._policy)


def _pools(policy: FetchPolicy) -> dict[str, type[HTTPConnectionPool]]:
    def new_conn(conn: HTTPConnection) -> socket.socket:
        try:
            return policy.connect(
                conn.host,
                conn.port,
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc

    class _HTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class _HTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class _HTTPPool(HTTPConnectionPool):
        ConnectionCls = _HTTP

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPS

    return {"http": _HTTPPool, "https": _HTTPSPool}
