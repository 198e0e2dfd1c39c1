"""Both sides of the blog behind figway's gateway: `figway --app blog.gateway:make_gateway`.

Where things live: BLOG_DIR (default ./instance) holds the database and figway's own
state (var/); the manifest is ./routes.yaml unless BLOG_MANIFEST says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from blog.legacy import DEFAULT_DIR, create_app
from blog.twins import create_api
from gateway.app import Gateway, create_gateway
from shared.config import Settings


def make_gateway(workdir: Path | None = None, manifest: Path | None = None) -> Gateway:
    """The gateway over the blog in `workdir`, routing by `manifest` (both from the
    environment when not given: the CLI and `uvicorn --factory` call it so)."""
    root = workdir if workdir is not None else Path(os.environ.get("BLOG_DIR", DEFAULT_DIR))
    routes = (
        manifest if manifest is not None else Path(os.environ.get("BLOG_MANIFEST", "routes.yaml"))
    )
    database = root / "blog.db"
    legacy = create_app({"DATABASE": str(database)})
    # figway's settings: where its own state goes, admin token and limits from the
    # environment (FIGWAY_*). The Flask session's key comes from the Flask app itself.
    settings = Settings(_env_file=None, var_dir=root / "var")
    return create_gateway(settings, legacy=legacy, modern=create_api(database), manifest=routes)
