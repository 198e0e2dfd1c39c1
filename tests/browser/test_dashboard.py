"""The migration dashboard (/_figway/) in Chromium, against a real `figway serve`: signed
in with the admin token through its form, every route shown, a flip, a canary weight and
a shadow sample set by its buttons and seen on the page, in the history and in what the
gateway serves; a refused rollout's message shown to the person; no horizontal scroll at
1366x768. Screenshot: test-output/browser/dashboard/dashboard.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from gateway import manifest as mf
from tests.browser.harness import PageServer, PageWatch, screenshot, serve_pages

TOKEN = "browser-dashboard-token-0123456789"
ROUTE = "GET /api/version"  # on fastapi in the committed manifest, with its twin
PATH = "/api/version"
LAPTOP: ViewportSize = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def server(
    seeded_var: Path, twins: frozenset[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PageServer]:
    """One server (the pages on flask, so the legacy side is up), with an admin token."""
    with serve_pages(
        tmp_path_factory.mktemp("dashboard"), "flask", seeded_var, twins, FIGWAY_ADMIN_TOKEN=TOKEN
    ) as running:
        yield running


@pytest.fixture
def context(browser: Browser, server: PageServer) -> Iterator[BrowserContext]:
    """A laptop's screen: the page must fit it without scrolling sideways."""
    ctx = browser.new_context(base_url=server.url, viewport=LAPTOP)
    yield ctx
    ctx.close()


def test_an_operator_signs_in_and_flips_canaries_and_shadows_a_route(
    page: Page, watch: PageWatch, server: PageServer
) -> None:
    watch.expect_status(401, "/_figway/")  # before signing in: the sign-in page
    watch.expect_status(409, "/_figway/rollout")  # the unverified rollout below
    assert page.request.get(PATH).headers["x-served-by"] == "fastapi"
    page.goto("/_figway")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Admin token (FIGWAY_ADMIN_TOKEN)").fill(TOKEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#actor")).to_have_text("admin-token")

    # Every route of the manifest, once.
    keys = [e.key for e in mf.load(Path(server.env["FIGWAY_MANIFEST"])).entries]
    shown = page.locator("tr[data-route]").evaluate_all("rows => rows.map(r => r.dataset.route)")
    assert sorted(shown) == sorted(keys)
    expect(page.locator("text=this process (pid")).to_be_visible()

    # Flip: fastapi to flask (no verdict needed that way).
    version = page.locator(f'tr[data-route="{ROUTE}"]')
    expect(version.locator(".owner")).to_have_text("fastapi")
    page.locator("#reason").fill("dashboard test")
    version.get_by_role("button", name="→ flask").click()
    expect(page.locator("#answer")).to_have_text(f"{ROUTE}: fastapi → flask")
    version = page.locator(f'tr[data-route="{ROUTE}"]')  # the table was rendered again
    expect(version.locator(".owner")).to_have_text("flask")
    assert page.request.get(PATH).headers["x-served-by"] == "flask"
    latest = page.locator("#history tbody tr").first
    expect(latest).to_contain_text("flip")
    expect(latest).to_contain_text(ROUTE)
    expect(latest).to_contain_text("dashboard test")

    # The figures follow this process's metrics (refreshed every 5 s): the request above
    # and three more, Flask's.
    for _ in range(3):
        assert page.request.get(PATH).ok
    expect(version.locator('td[data-fig="flask"]')).to_contain_text("4 req", timeout=8000)

    # A canary weight, then shadow traffic: each in its cell and the history.
    version.locator('input[name="weight"]').fill("30")
    version.get_by_role("button", name="Set").click()
    expect(page.locator("#answer")).to_have_text(f"{ROUTE}: canary 30%")
    version = page.locator(f'tr[data-route="{ROUTE}"]')
    expect(version.locator(".canary .state")).to_have_text("30%")
    expect(page.locator("#history tbody tr").first).to_contain_text("canary")
    version.locator('input[name="sample"]').fill("50")
    version.get_by_role("button", name="On").click()
    expect(page.locator("#answer")).to_have_text(f"{ROUTE}: shadow 50%")
    version = page.locator(f'tr[data-route="{ROUTE}"]')
    expect(version.locator(".shadow .state")).to_have_text("50%")
    expect(page.locator("#history tbody tr").first).to_contain_text("shadow")
    expect(version.locator(".drift")).to_be_visible()  # the file says neither

    # A refusal is said as the admin API words it, for people.
    page.locator('button[data-action="rollout"][data-phase="4"]').click()
    expect(page.locator("#answer")).to_contain_text("409: ")
    expect(page.locator("#answer")).to_contain_text("never verified")
    expect(page.locator("#answer")).to_have_class("failed")

    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide}px at 1366x768"
    screenshot(page, "dashboard", "dashboard")
