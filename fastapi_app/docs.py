"""OpenAPI for twins that read their bodies with the legacy parser.

The twins parse request bodies themselves (shared.validation), so a bad body gets the
legacy 400 with the legacy message, which FastAPI's own body validation would not give.
FastAPI therefore cannot see the body model; `json_body` tells /docs about it. Answers are
documented, not filtered: `answers` names the model in /docs while the route still returns
the shared serializer's JSON untouched (a response_model would re-serialize it, and drop
keys silently). The parity runner checks every answer against the model named here, so
the documentation cannot drift from what either side sends.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.responses import FileResponse, HTMLResponse

from fastapi_app.schemas.common import ErrorOut

REF = "#/components/schemas/{model}"
_BODIES: dict[str, type[BaseModel]] = {}
_ERRORS = {
    400: "Bad input (malformed JSON, a wrong type, a bound)",
    401: "Not logged in",
    403: "Below the route's role",
    404: "No such row",
    409: "Conflict with an existing row",
    415: "The body is not JSON (Content-Type is not application/json)",
    423: "Account locked after failed logins",
    429: "Too many failed logins from this client: wait for the window to pass",
    503: "A backing service (database, metadata provider) is unavailable",
}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `model` (parsed by the route), and the
    415 the legacy parser answers a body that is not JSON (shared.validation)."""
    _BODIES[model.__name__] = model
    schema = {"$ref": REF.format(model=model.__name__)}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"415": _error_response(415)},
    }


def _error_response(code: int) -> dict[str, Any]:
    """An error answer as FastAPI documents a `responses` entry naming ErrorOut."""
    return {
        "description": _ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}},
    }


def answers(
    model: type[BaseModel] | None, *errors: int, status: int = 200
) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route answering `model` with `status`, and the legacy errors."""
    documented: dict[int | str, dict[str, Any]] = {}
    if model is not None:
        documented[status] = {"model": model, "description": "Success"}
    for code in (401, 403, *errors):
        documented[code] = {"model": ErrorOut, "description": _ERRORS.get(code, "Error")}
    return documented


def documented_model(responses: dict[int | str, dict[str, Any]], status: int) -> Any:
    """The model a route documents for `status`, or None."""
    entry = responses.get(status) or responses.get(str(status))
    return entry.get("model") if entry else None


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, adding the body models `json_body` referred to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            # FastAPI documents a 422 for every route with parameters; the twins answer the
            # legacy 400 instead (shared.web.errors), so the 422 would be a false promise.
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            for name, model in _BODIES.items():
                body = model.model_json_schema(ref_template=REF)
                components.update(body.pop("$defs", {}))
                components[name] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Swagger UI and ReDoc as the fastapi-offline package ships them: /docs and /redoc work
# with no network (a CDN is out of reach on many hosts this runs on, and sees every visit).
ASSETS_PATH = "/docs/assets"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc, and the four files they load, served by the app itself."""
    assets = files("fastapi_offline") / "static"
    url = {name: f"{ASSETS_PATH}/{name}" for name in ASSET_TYPES}
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=url["swagger-ui-bundle.js"],
            swagger_css_url=url["swagger-ui.css"],
            swagger_favicon_url=url["favicon.png"],
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=url["redoc.standalone.js"],
            redoc_favicon_url=url["favicon.png"],
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
    for name, media_type in ASSET_TYPES.items():
        # One static route each, no mount: the gateway sends FastAPI-only routes by their key.
        path = str(assets / name)

        async def asset(path: str = path, media_type: str = media_type) -> FileResponse:
            return FileResponse(path, media_type=media_type)

        app.add_api_route(url[name], asset, include_in_schema=False)
