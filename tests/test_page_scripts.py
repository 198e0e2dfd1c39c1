"""The pages' scripts: every one a template loads is a file under /static (never inline code,
never another host), deferred so that it runs in the order written, with api.js ahead of the
area scripts that use it (tests/browser/test_actions.py runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.web.pages import STATIC, STATIC_URL_PATH, TEMPLATES

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL)
SRC = re.compile(r'\bsrc="([^"]+)"')


def scripts(template: Path) -> list[tuple[str, str]]:
    """Each <script>'s attributes and body, in the order the template writes them."""
    return [(m.group(1), m.group(2)) for m in SCRIPT.finditer(template.read_text())]


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_scripts_are_deferred_static_files(template: Path) -> None:
    for attrs, body in scripts(template):
        assert body.strip() == "", f"{template.name}: inline script"
        src = SRC.search(attrs)
        assert src is not None, f"{template.name}: <script{attrs}> has no src"
        url = src.group(1)
        assert url.startswith(STATIC_URL_PATH + "/"), f"{template.name}: {url} not ours"
        assert (STATIC / url.removeprefix(STATIC_URL_PATH + "/")).is_file(), url
        assert re.search(r"\bdefer\b", attrs), f"{template.name}: {url} not deferred"


def script_names(template: Path) -> list[str]:
    return [Path(src.group(1)).name for attrs, _ in scripts(template) if (src := SRC.search(attrs))]


def test_the_layout_loads_api_js_before_any_page_script_and_app_js() -> None:
    """api.js makes window.figway, which app.js and every page script use: the layout
    loads it first, ahead of the page's block of scripts and app.js (deferred scripts run
    in the order written)."""
    layout = (TEMPLATES / "base.html").read_text()
    api_at = layout.index('src="/static/js/api.js"')
    assert api_at < layout.index("{% block scripts %}") < layout.index('src="/static/js/app.js"')


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_every_page_has_the_layout_and_loads_api_js_once(template: Path) -> None:
    if template.name in ("base.html", "_macros.html"):
        return
    assert '{% extends "base.html" %}' in template.read_text(), template.name
    assert "api.js" not in script_names(template), f"{template.name}: the layout loads it"


def test_no_page_script_talks_to_the_server_but_through_api_js() -> None:
    """One way to call the JSON API (api.js: its errors in the legacy shape made readable,
    controls disabled while a request runs): no script of the pages fetches by itself."""
    for script in sorted((STATIC / "js").glob("*.js")):
        if script.name == "api.js":
            continue
        assert "fetch(" not in script.read_text(), f"{script.name} calls fetch itself"
