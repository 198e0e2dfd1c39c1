"""Fixtures of the browser tests (tests/browser/README.md says how to use them).

- `page_owner` (module, parametrized "flask", "fastapi") and `server` (module): a real
  `figway serve` on a seeded copy of one SQLite database, its page routes owned by
  `page_owner` where that side has them (`page_servers` starts one per owner at once); a
  module overrides `server` for other settings.
- `browser` (Chromium, started once for all the browser tests), `context` (a fresh one per
  test: no cookies, `base_url` the server's), `watch` and `page` (a page of that context;
  anything going wrong in it fails the test at teardown).

Run only in the first pass of `make test`: tests/conftest.py leaves tests/browser/ out of
the pass through the gateway, which reruns the legacy suite and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.harness import (
    CHROMIUM,
    OWNERS,
    VIEWPORT,
    Chromium,
    PageServer,
    PageWatch,
    fastapi_twins,
    seed_var,
    serve_pages,
)
from tests.conftest import service_missing

BROWSER_TESTS = Path(__file__).parent
# One Chromium for the whole run, closed as soon as the last browser test is done (see
# pytest_runtest_teardown): the rest of the suite runs asyncio.run(), which fails while
# Playwright's sync API is started in the same thread.
_CHROMIUM = Chromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    if nextitem is None or not nextitem.path.is_relative_to(BROWSER_TESTS):
        _CHROMIUM.close()
    return result


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        service_missing(f"Chromium ({CHROMIUM}: `make chromium` installs Debian's package)")
    yield _CHROMIUM
    _CHROMIUM.close()


@pytest.fixture
def browser(chromium: Chromium) -> Browser:
    return chromium.browser()


@pytest.fixture(scope="session")
def twins(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """The FastAPI app's routes (manifest.twin_key form): what can be given to fastapi."""
    return fastapi_twins(tmp_path_factory.mktemp("twins"))


@pytest.fixture(scope="session")
def seeded_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated, seeded var directory every server starts from a copy of."""
    return seed_var(tmp_path_factory.mktemp("seeded"))


@pytest.fixture(scope="module", params=OWNERS)
def page_owner(request: pytest.FixtureRequest) -> str:
    """The side the page routes are given to."""
    owner: str = request.param
    return owner


@pytest.fixture(scope="module")
def page_servers(
    seeded_var: Path, twins: frozenset[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, PageServer]]:
    """A server for each owner, started side by side: each takes seconds to boot, most of
    it waiting on imports. A module's own: what one module's tests write, the next never
    sees."""
    # The pool is left (its threads done, each server registered with the stack or failed)
    # before the stack stops what was started.
    with ExitStack() as stack, ThreadPoolExecutor(len(OWNERS)) as pool:
        starting = {
            owner: pool.submit(
                stack.enter_context,
                serve_pages(tmp_path_factory.mktemp(f"pages-{owner}"), owner, seeded_var, twins),
            )
            for owner in OWNERS
        }
        yield {owner: future.result() for owner, future in starting.items()}


@pytest.fixture(scope="module")
def server(page_owner: str, page_servers: dict[str, PageServer]) -> PageServer:
    return page_servers[page_owner]


@pytest.fixture
def context(browser: Browser, server: PageServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    yield ctx
    ctx.close()


@pytest.fixture
def watch(context: BrowserContext) -> Iterator[PageWatch]:
    """What goes wrong in `context`; declare an expected error answer with
    watch.expect_status(404, "/videos/999")."""
    watcher = PageWatch()
    watcher.attach(context)
    yield watcher
    # Before `context` closes: requests cut short by closing it are not the page's fault.
    problems = watcher.report()
    if problems:
        pytest.fail("the browser saw problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def page(context: BrowserContext, watch: PageWatch) -> Page:
    return context.new_page()
