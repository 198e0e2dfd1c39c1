"""Someone else's app for the CLI's --app tests: a Flask app of four routes, a FastAPI app
twinning two of them, and a factory putting both behind a gateway.

FOREIGN_APP_DIR names the directory of its manifest (routes.yaml) and its database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from flask import Flask

from gateway.app import Gateway, create_gateway
from shared.config import Settings

DIR_VAR = "FOREIGN_APP_DIR"

legacy = Flask(__name__, static_folder=None)
modern = FastAPI()


@legacy.get("/hello/<int:n>")
def hello(n: int) -> dict[str, Any]:
    return {"n": n, "side": "flask"}


@legacy.get("/items")
def items() -> dict[str, Any]:
    return {"items": [], "side": "flask"}


@legacy.post("/items")
def add_item() -> tuple[dict[str, Any], int]:
    return {"added": True}, 201


@legacy.get("/about")
def about() -> str:
    return "about us"


@modern.get("/hello/{n}")
async def hello_twin(n: int) -> dict[str, Any]:
    return {"n": n, "side": "fastapi"}


@modern.get("/items")
async def items_twin() -> dict[str, Any]:
    return {"items": [], "side": "fastapi"}


def workdir() -> Path:
    return Path(os.environ[DIR_VAR])


def settings(where: Path | None = None) -> Settings:
    """The app's settings, its state under `where` (default: FOREIGN_APP_DIR)."""
    where = workdir() if where is None else where
    return Settings(
        _env_file=None,
        env="test",
        var_dir=where / "var",
        database_url=f"sqlite:///{where / 'foreign.db'}",
        secret_key="foreign-secret-key-0123456789abcdef",
        media_root=where / "media",
        log_file=where / "var" / "foreign.log",
        redis_url=None,
    )


def make_gateway() -> Gateway:
    return create_gateway(
        settings(), legacy=legacy, modern=modern, manifest=workdir() / "routes.yaml"
    )
