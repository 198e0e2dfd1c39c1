"""The building blocks of the browser tests; tests/browser/conftest.py makes fixtures of them.

A real `figway serve` on a seeded SQLite database, its page routes owned by one side; Debian's
Chromium driven by Playwright; a watch on everything the browser sees go wrong; screenshots;
a login through the real form. See tests/browser/README.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
    sync_playwright,
)

from gateway import manifest as mf
from shared.demo import ADMIN_USERNAME
from tests.servers import base_env, figway, free_port, serving
from tests.test_contract import MANIFEST

# Debian's build (`make chromium`): Playwright's own browser downloads are not to be had on
# every machine this suite runs on, and one Chromium is all these tests need.
CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
# Screenshots, one folder per owner: test-output/browser/<owner>/<name>.png (gitignored).
SCREENSHOTS = REPO / "test-output" / "browser"
OWNERS = ("flask", "fastapi")
PAGES_PHASE = 4
ADMIN_PASSWORD = "browser-admin-password-0123"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def page_routes() -> list[str]:
    """The routes of the pages phase of the committed manifest (the pages and /static)."""
    return [e.key for e in mf.load(MANIFEST).in_phase(PAGES_PHASE)]


def fastapi_twins(tmp: Path) -> frozenset[str]:
    """Every route the FastAPI app has, as manifest.twin_key writes it. The app is only
    built: its pools open on first use, so there is nothing to close."""
    from fastapi_app import create_fastapi_app
    from gateway.app import modern_route_keys
    from shared.config import Settings

    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'twins.db'}",
        secret_key="browser-twins-0123456789abcdef",
        media_root=tmp / "media",
        redis_url=None,
    )
    return frozenset(mf.twin_key(k) for k in modern_route_keys(create_fastapi_app(settings).routes))


def seed_var(tmp: Path) -> Path:
    """A var directory (SQLite database and media) migrated and seeded by the real commands:
    `figway db upgrade`, then `figway seed-demo` (3 artists, 7 videos of which 3 have files,
    one public playlist, and the admin `ADMIN_USERNAME` with `ADMIN_PASSWORD`). Servers copy
    it, so each starts from the same library and none sees another's writes."""
    env = base_env(tmp, FIGWAY_MANIFEST=str(MANIFEST), FIGWAY_ADMIN_PASSWORD=ADMIN_PASSWORD)
    for command in (("db", "upgrade"), ("seed-demo",)):
        done = figway(*command, env=env)
        assert done.returncode == 0, f"figway {' '.join(command)}:\n{done.stdout}{done.stderr}"
    return tmp / "var"


@dataclass(frozen=True)
class PageServer:
    """A running `figway serve` whose page routes were given to `owner`."""

    url: str
    owner: str
    # Each page route (phase 4) and the side its manifest gives it.
    owners: dict[str, str]
    # The page routes `owner` was asked for but cannot have: fastapi, and no twin yet.
    not_flipped: tuple[str, ...]
    env: dict[str, str]
    log: Path

    def expected_owner(self, route: str) -> str:
        """Who must answer `route` ("GET /artists/<int:artist_id>"): its manifest owner."""
        return self.owners[mf.normalize_key(route)]


@contextmanager
def serve_pages(
    tmp: Path, owner: str, seeded: Path, twins: frozenset[str], **extra_env: str
) -> Iterator[PageServer]:
    """`figway serve` on a copy of `seeded` (see seed_var) and of the committed manifest, the
    page routes given to `owner` where that side has them (a route without a FastAPI twin
    stays flask); the other routes as committed. `extra_env` adds to the environment."""
    assert owner in OWNERS, owner
    shutil.copytree(seeded, tmp / "var")
    manifest = tmp / "migration_status.yaml"
    shutil.copy(MANIFEST, manifest)
    wanted: dict[str, str] = {}
    not_flipped: list[str] = []
    for key in page_routes():
        if owner == "fastapi" and mf.twin_key(key) not in twins:
            not_flipped.append(key)
            wanted[key] = "flask"
        else:
            wanted[key] = owner
    with mf.locked(manifest):
        loaded = mf.set_owners(manifest, wanted)
    owners = {key: entry.owner for key in wanted if (entry := loaded.entry(key)) is not None}
    env = base_env(
        tmp,
        FIGWAY_MANIFEST=str(manifest),
        FIGWAY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **extra_env,
    )
    port = free_port()
    with serving(["serve", "--port", str(port)], env, port) as url:
        yield PageServer(
            url=str(url),
            owner=owner,
            owners=owners,
            not_flipped=tuple(not_flipped),
            env=env,
            log=tmp / f"server-{port}.log",
        )


class Chromium:
    """One headless Chromium, started on first use and stopped by close() (started again if
    asked for after). While Playwright's sync API runs, asyncio.run() fails in this thread,
    so the conftest closes it as soon as the browser tests are done."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def browser(self) -> Browser:
        if self._browser is None:
            self._playwright = sync_playwright().start()
            # The sandbox needs user namespaces a root process in a container lacks.
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=args
            )
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


@dataclass
class Allowed:
    status: int
    path: str
    seen: int = 0


@dataclass
class PageWatch:
    """Everything that goes wrong in a browser context: console errors, uncaught page
    errors, failed requests and responses of status >= 400. A test declares the error
    answers it expects with expect_status(); the `page` fixture fails the test at teardown
    when `problems` is not empty, or when an expected answer never came."""

    problems: list[str] = field(default_factory=list)
    allowed: list[Allowed] = field(default_factory=list)
    # Requests the browser itself gave up (net::ERR_ABORTED): the page navigated away before
    # they finished (a favicon, often), or a <video> moved on to a range request. No fault
    # of the server (whose failures show as another net:: error, or a status): kept here
    # for a test that cares, not counted as problems.
    aborted: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        context.on("requestfailed", self._on_request_failed)
        context.on("response", self._on_response)

    def expect_status(self, status: int, path: str) -> None:
        """Responses of `status` to `path` (URL path, no query) are expected, with the
        console error Chromium logs for each."""
        self.allowed.append(Allowed(status, path))

    def _allowance(self, status: int | None, url: str) -> Allowed | None:
        path = urlsplit(url).path
        for allowed in self.allowed:
            if allowed.path == path and status in (None, allowed.status):
                return allowed
        return None

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs every error answer a page loads as "Failed to load resource: ...",
        # at that resource's URL: an expected answer's message is expected too.
        if message.text.startswith("Failed to load resource") and self._allowance(
            None, message.location.get("url", "")
        ):
            return
        where = message.location
        self.problems.append(
            f"console error: {message.text} (at {where.get('url')}:{where.get('lineNumber')})"
        )

    def _on_request_failed(self, request: Request) -> None:
        failed = f"{request.method} {request.url}: {request.failure}"
        if request.failure == "net::ERR_ABORTED":
            self.aborted.append(failed)
        else:
            self.problems.append(f"request failed: {failed}")

    def _on_response(self, response: Response) -> None:
        if response.status < 400:
            return
        allowed = self._allowance(response.status, response.url)
        if allowed is not None:
            allowed.seen += 1
            return
        self.problems.append(
            f"HTTP {response.status}: {response.request.method} {response.url}"
            f" (X-Served-By: {response.headers.get('x-served-by')})"
        )

    def report(self) -> list[str]:
        """The problems, and each expected answer that never came."""
        missing = [
            f"expected HTTP {a.status} from {a.path}, never answered"
            for a in self.allowed
            if not a.seen
        ]
        return [*self.problems, *missing]


def screenshot(page: Page, owner: str, name: str) -> Path:
    """The whole page as test-output/browser/<owner>/<name>.png; prints and returns the path."""
    path = SCREENSHOTS / owner / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def served_by(response: Response | None) -> str | None:
    """The X-Served-By of a document response (the gateway names the side that answered)."""
    assert response is not None, "no response: the navigation did not reach the server"
    return response.headers.get("x-served-by")


def assert_styled(page: Page) -> None:
    """The stylesheet applied (shared/web/static/css/app.css), not just linked: unstyled,
    the top bar is a block and the body's background transparent."""
    style = page.evaluate(
        """() => ({
            topbar: getComputedStyle(document.querySelector("header.topbar")).display,
            background: getComputedStyle(document.body).backgroundColor,
        })"""
    )
    assert style == {"topbar": "flex", "background": "rgb(246, 245, 248)"}, style


def login(
    page: Page,
    username: str = ADMIN_USERNAME,
    password: str = ADMIN_PASSWORD,
    next_path: str | None = None,
    on_form: Callable[[Page], None] | None = None,
) -> Response | None:
    """Log in through the real form: open /login (?next=`next_path`), type the credentials,
    press the button. Returns the response of the page the browser lands on (the dashboard,
    or `next_path`) after the form's POST and its redirect. `on_form` runs with the form on
    screen (to check it or take its screenshot)."""
    target = "/login" if next_path is None else f"/login?next={next_path}"
    page.goto(target)
    if on_form is not None:
        on_form(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Log in").click()
    response = landed.value
    assert urlsplit(page.url).path == (next_path or "/"), (page.url, page.content()[:2000])
    assert page.locator("header .username").inner_text() == username
    return response
