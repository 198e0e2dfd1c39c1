"""The legacy app: a Flask factory and one blueprint per resource, blocking the legacy way."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from legacy_flask.auth import declare_auth
from legacy_flask.blueprints import BLUEPRINTS
from legacy_flask.db import init_db
from legacy_flask.errors import register_error_handlers
from legacy_flask.extensions import Legacy
from legacy_flask.http import install_http_rules
from legacy_flask.realtime import init_realtime
from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.logs import configure_logging
from shared.web.pages import STATIC, STATIC_URL_PATH, TEMPLATES


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    # The templates and static files are shared/web's: the FastAPI side renders the same ones.
    app = Flask(
        __name__,
        template_folder=TEMPLATES,
        static_folder=STATIC,
        static_url_path=STATIC_URL_PATH,
    )
    app.config.update(
        SECRET_KEY=settings.signing_keys[0],
        # Flask (>=3.1) verifies cookies signed with these too: SECRET_KEY rotation.
        SECRET_KEY_FALLBACKS=settings.signing_keys[1:],
        SESSION_COOKIE_NAME=settings.session_cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_s),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
        TESTING=settings.env == "test",
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_logging(settings.log_path)

    engine = create_sync_engine(settings)
    Legacy(settings=settings, engine=engine, sessions=sync_sessionmaker(engine)).init_app(app)
    init_db(app)
    register_error_handlers(app)
    install_http_rules(app, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    declare_auth(app.view_functions["static"], "public")
    init_realtime(app, settings)
    return app
