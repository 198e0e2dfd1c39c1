"""The watch every browser test relies on catches what it must, and lets through what a
test declares: pages served by Playwright itself (context.route), no figway server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Route

from tests.browser.harness import PageWatch

ORIGIN = "http://figway.test"
PAGE = """<!doctype html><html><head><title>t</title></head><body>
<img src="/missing.png"><img src="/expected-missing.png">
<script>
console.error("boom");
setTimeout(() => { throw new Error("uncaught"); }, 0);
Promise.allSettled([fetch("/refused"), fetch("/given-up")]).then(() => { window.settled = true; });
</script></body></html>"""


def _serve(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        route.fulfill(status=200, content_type="text/html", body=PAGE)
    elif path in ("/missing.png", "/expected-missing.png"):
        route.fulfill(status=404, content_type="text/plain", body="no")
    elif path == "/refused":
        route.abort("connectionrefused")
    else:
        route.abort("aborted")


@pytest.fixture
def bare_context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    ctx.route(f"{ORIGIN}/**", _serve)
    yield ctx
    ctx.close()


def test_the_watch_reports_errors_and_passes_what_is_expected(bare_context):
    watch = PageWatch()
    watch.attach(bare_context)
    watch.expect_status(404, "/expected-missing.png")
    watch.expect_status(500, "/never-asked-for")
    page = bare_context.new_page()
    page.goto(ORIGIN + "/")
    # The timer has thrown by the time both fetches have settled (each waits for _serve).
    page.wait_for_function("() => window.settled === true")
    report = watch.report()

    page_at = f"{ORIGIN}/"
    assert sorted(report) == sorted(
        [
            f"console error: boom (at {page_at}:3)",
            f"HTTP 404: GET {ORIGIN}/missing.png (X-Served-By: None)",
            # Chromium's own console line for each failed load, at the resource's URL.
            "console error: Failed to load resource: the server responded with a status of"
            f" 404 (Not Found) (at {ORIGIN}/missing.png:0)",
            f"request failed: GET {ORIGIN}/refused: net::ERR_CONNECTION_REFUSED",
            "console error: Failed to load resource: net::ERR_CONNECTION_REFUSED"
            f" (at {ORIGIN}/refused:0)",
            "expected HTTP 500 from /never-asked-for, never answered",
            "page error: uncaught",
        ]
    ), report
    # The expected 404 and its console line are not there; the request the browser gave up
    # is kept aside.
    assert watch.aborted == [f"GET {ORIGIN}/given-up: net::ERR_ABORTED"]
