"""/docs and /redoc through the gateway: the pages and every file they load come from the
FastAPI app, none from a CDN."""

from __future__ import annotations

import pytest

from tests.test_openapi import assert_served_offline


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_through_the_gateway_load_nothing_from_elsewhere(gw, page):
    assert_served_offline(gw, page)
    assert gw.get("/docs/assets/swagger-ui-bundle.js").headers["x-served-by"] == "fastapi"
