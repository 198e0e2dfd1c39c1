"""The one way a media path is stored and read back: relative to MEDIA_ROOT, POSIX style.

A stored path relative to the working folder (or absolute) breaks as soon as the server
starts elsewhere or MEDIA_ROOT moves; one relative to MEDIA_ROOT does not. Both ways
through here resolve first, so neither "../" nor a symlink leads outside MEDIA_ROOT.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class OutsideMediaRoot(ValueError):
    """A path that would lead outside MEDIA_ROOT: never stored, never served."""


def media_root(media_dir: Path) -> Path:
    """MEDIA_ROOT as an absolute path to build file paths on: a relative one would be read
    against whatever folder the reader starts from (Flask's send_file: the app's package).
    No filesystem call (absolute, not resolve): the FastAPI side builds paths on its loop."""
    return media_dir.absolute()


def to_stored(media_dir: Path, path: Path) -> str:
    """What a row keeps for a file under MEDIA_ROOT."""
    root = media_dir.resolve()
    full = (root / path).resolve()
    if full == root or not full.is_relative_to(root):
        raise OutsideMediaRoot(f"{path} is not inside the media directory")
    return full.relative_to(root).as_posix()


def from_stored(media_dir: Path, stored: str | None) -> Path | None:
    """The absolute path a stored value names, or None when empty or outside MEDIA_ROOT.

    An absolute value inside MEDIA_ROOT (as rows written before migration 0003) still reads.
    """
    if not stored:
        return None
    root = media_dir.resolve()
    full = (root / PurePosixPath(stored)).resolve()
    if full == root or not full.is_relative_to(root):
        return None
    return full
