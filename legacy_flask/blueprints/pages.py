"""The server-rendered pages: the plans of shared/services/pages.py run on the Session and
rendered by Jinja with the filters of shared/web/render.py.

Templates link with literal paths (never url_for) so the FastAPI twins of phase 4 render
the same files with the same context (fastapi_app/routers/pages.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request
from flask.typing import ResponseReturnValue

from legacy_flask.auth import current_user, page
from legacy_flask.db import db
from shared.auth.roles import has_role
from shared.db.plan import run
from shared.services import pages
from shared.services.auth import Caller, login_page_context
from shared.web.render import FILTERS, viewer

bp = Blueprint("pages", __name__)
for _name, _filter in FILTERS.items():
    bp.add_app_template_filter(_filter, _name)


@bp.app_context_processor
def _viewer() -> dict[str, Any]:
    # Only a user the request already resolved: rendering a template never starts DB IO,
    # and error pages (403/404) still show who is logged in.
    return {"viewer": viewer(g.get("user"))}


def _render(shown: pages.Page) -> ResponseReturnValue:
    return render_template(shown.template, **shown.context), shown.status


def _viewer_user() -> Caller:
    user = current_user()
    assert user is not None  # @page let the request through
    return user


@bp.get("/login")
@page("public")
def login() -> ResponseReturnValue:
    return render_template("login.html", **login_page_context(request.args))


@bp.get("/")
@page("readonly")
def dashboard() -> ResponseReturnValue:
    return _render(run(db(), pages.dashboard, _viewer_user().id))


@bp.get("/artists")
@page("readonly")
def artists() -> ResponseReturnValue:
    return _render(run(db(), pages.artists, request.args.get("page")))


@bp.get("/artists/<int:artist_id>")
@page("readonly")
def artist(artist_id: int) -> ResponseReturnValue:
    return _render(run(db(), pages.artist, artist_id))


@bp.get("/videos")
@page("readonly")
def videos() -> ResponseReturnValue:
    args = request.args
    return _render(
        run(db(), pages.videos, args.get("status"), args.get("limit"), args.get("offset"))
    )


@bp.get("/videos/<int:video_id>")
@page("readonly")
def video(video_id: int) -> ResponseReturnValue:
    can_download = has_role(_viewer_user().role, "user")
    return _render(run(db(), pages.video, video_id, can_download))


@bp.get("/playlists")
@page("readonly")
def playlists() -> ResponseReturnValue:
    return _render(run(db(), pages.playlists, _viewer_user().id))


@bp.get("/settings")
@page("admin")
def settings() -> ResponseReturnValue:
    return _render(run(db(), pages.settings))
