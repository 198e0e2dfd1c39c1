"""The manifest: every problem refused with its file, line and entry; edits keep comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import manifest as mf
from tests.test_contract import MANIFEST, legacy_manifest

LEGACY = [e.key for e in mf.load(MANIFEST).entries]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The committed manifest with every route on flask, whatever has been rolled out."""
    return legacy_manifest(tmp_path / "migration_status.yaml")


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _problems(path: Path, modern: list[str] | None = None) -> list[mf.Problem]:
    try:
        manifest = mf.load(path)
    except mf.ManifestError as exc:
        return exc.problems
    return mf.check_routes(manifest, LEGACY, modern if modern is not None else [])


def test_committed_manifest_is_valid_against_the_app(app):
    from gateway.routes import every_route

    manifest = mf.load(MANIFEST)
    assert mf.check_routes(manifest, [r.key for r in every_route(app)], None) == []
    assert [p.number for p in manifest.phases] == [1, 2, 3, 4]


def test_unknown_owner(copy):
    _edit(
        copy,
        "  - route: GET /api/version\n    phase: 1\n    owner: flask",
        "  - route: GET /api/version\n    phase: 1\n    owner: django",
    )
    (problem,) = _problems(copy)
    assert problem.file == str(copy) and problem.entry == "GET /api/version"
    assert problem.line == _line_of(copy, "route: GET /api/version")
    assert "unknown owner 'django'" in str(problem)
    assert str(problem).startswith(f"{copy}:{problem.line}: GET /api/version: ")


def test_unknown_phase(copy):
    _edit(
        copy,
        "  - route: GET /api/version\n    phase: 1",
        "  - route: GET /api/version\n    phase: 7",
    )
    (problem,) = _problems(copy)
    assert problem.line == _line_of(copy, "route: GET /api/version")
    assert "unknown phase 7" in problem.message


def test_duplicate_route(copy):
    _edit(copy, "route: GET /api/version", "route: GET /api/health")
    problems = _problems(copy)
    duplicate = [p for p in problems if "duplicate" in p.message]
    assert len(duplicate) == 1 and duplicate[0].entry == "GET /api/health"
    lines = [
        i
        for i, line in enumerate(copy.read_text().splitlines(), 1)
        if line.endswith("route: GET /api/health")
    ]
    assert len(lines) == 2
    assert duplicate[0].line == lines[1]
    assert f"first at line {lines[0]}" in duplicate[0].message


def test_route_the_legacy_app_does_not_have_and_missing_route(copy):
    _edit(copy, "route: GET /api/version", "route: GET /api/versions")
    problems = {(p.entry, p.message) for p in _problems(copy)}
    assert ("GET /api/versions", "the legacy app has no such route") in problems
    assert ("GET /api/version", "legacy route missing from the manifest") in problems
    missing = next(p for p in _problems(copy) if p.entry == "GET /api/version")
    assert missing.line == _line_of(copy, "routes:")


def test_fastapi_owner_without_twin(copy):
    _edit(
        copy,
        "  - route: GET /api/users\n    phase: 1\n    owner: flask",
        "  - route: GET /api/users\n    phase: 1\n    owner: fastapi",
    )
    (problem,) = _problems(copy, modern=["GET /api/version"])
    assert problem.entry == "GET /api/users" and "no twin" in problem.message
    assert problem.line == _line_of(copy, "route: GET /api/users\n".strip())
    # With the twin present (FastAPI path syntax), it is fine.
    assert _problems(copy, modern=["GET /api/users"]) == []


def test_twin_paths_match_across_syntaxes():
    assert mf.twin_key("GET /a/<int:video_id>/b") == mf.twin_key("GET /a/{video_id}/b")
    assert mf.twin_key("GET /static/<path:filename>") == mf.twin_key("GET /static/{filename:path}")
    assert mf.twin_key("GET /a/<int:x>") != mf.twin_key("GET /a/{y}")


def test_invalid_yaml_names_the_line(copy):
    _edit(copy, "    owner: flask\n    auth: public", "    owner: [flask\n    auth: public")
    (problem,) = _problems(copy)
    assert problem.line is not None and "not valid YAML" in problem.message


def test_bad_route_syntax_and_auth_level(copy):
    _edit(copy, "route: GET /api/version", "route: FETCH /api/version")
    _edit(copy, "auth: manager", "auth: superuser")
    messages = [p.message for p in _problems(copy)]
    assert any("route must be 'METHOD /path'" in m for m in messages)
    assert any("unknown auth level 'superuser'" in m for m in messages)


def test_unreadable_file():
    with pytest.raises(mf.ManifestError, match="cannot read"):
        mf.load(Path("/nonexistent/migration_status.yaml"))


def test_set_owners_changes_one_line_and_keeps_comments(copy):
    before = copy.read_text().splitlines()
    with mf.locked(copy):
        manifest = mf.set_owners(copy, {"get /api/version": "fastapi"})
    after = copy.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("    owner: flask", "    owner: fastapi")]
    entry = manifest.entry("GET /api/version")
    assert entry is not None and entry.owner == "fastapi"
    assert after[0].startswith("# figway route manifest")


def test_set_owners_leaves_no_temp_files(copy):
    with mf.locked(copy):
        mf.set_owners(copy, {"GET /api/health": "fastapi"})
    leftovers = [p.name for p in copy.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
