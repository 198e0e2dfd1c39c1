"""The apps the benchmark serves, as factories for uvicorn and gunicorn."""

from __future__ import annotations

from fastapi import FastAPI
from flask import Flask

from fastapi_app import create_fastapi_app
from legacy_flask import create_app
from shared.config import Settings


def bare_fastapi() -> FastAPI:
    """The FastAPI app alone, without the gateway in front."""
    return create_fastapi_app(Settings())


def legacy_wsgi() -> Flask:
    """The Flask app alone, for gunicorn."""
    return create_app(Settings())
