"""Requests the legacy way: JSON (or form) bodies into validated models, and the HTTP rules
every request and response passes (trusted hosts, same-site writes, security headers)."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, Response, request
from pydantic import BaseModel

from shared.config import Settings
from shared.errors import BadRequest
from shared.validation import parse_body, parse_json, require_json_type
from shared.web.headers import security_headers
from shared.web.hosts import TrustedHosts
from shared.web.origin import cross_site_refusal

M = TypeVar("M", bound=BaseModel)


def json_data() -> Any:
    require_json_type(request.content_type)
    return parse_json(request.get_data(cache=True))


def body(model: type[M]) -> M:
    return parse_body(model, json_data())


def install_http_rules(app: Flask, settings: Settings) -> None:
    """Before every request (404s and redirects included: Flask routes after these run),
    the host and same-site checks; on every response, the security headers."""
    hosts = TrustedHosts(settings.trusted_hosts)
    cookie_name = settings.session_cookie_name

    @app.before_request
    def _check_request() -> None:
        headers = request.headers
        if not hosts.allows(headers.get("Host")):
            raise BadRequest("Host not allowed")
        refusal = cross_site_refusal(
            request.method,
            host=headers.get("Host"),
            origin=headers.get("Origin"),
            referer=headers.get("Referer"),
            authorization=headers.get("Authorization"),
            cookie=headers.get("Cookie"),
            cookie_name=cookie_name,
        )
        if refusal is not None:
            raise refusal

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in security_headers(response.content_type):
            response.headers.setdefault(name, value)
        return response
