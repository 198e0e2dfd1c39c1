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
# The scripts that need window.figway, made by api.js.
USES_API = {"playlists.js", "video-edit.js", "settings.js", "artists.js"}


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


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_api_js_comes_before_the_scripts_using_it(template: Path) -> None:
    names = [
        Path(src.group(1)).name for attrs, _ in scripts(template) if (src := SRC.search(attrs))
    ]
    for name in USES_API.intersection(names):
        assert "api.js" in names and names.index("api.js") < names.index(name), (template, names)
