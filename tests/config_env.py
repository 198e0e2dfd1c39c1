"""What tests of `figway check-config` share: an environment of their own, and the
variables a refusal names."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from gateway.check_config import checked_names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """Only what a test sets: no figway variable from the shell, no .env of the checkout."""
    for name in list(os.environ):
        if name.startswith("FIGWAY_") or name in {*checked_names(), "DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def environment(monkeypatch, values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def refused(err: str) -> list[str]:
    """The variables named in a refusal, in order."""
    return [line.strip().split(":", 1)[0] for line in err.splitlines() if line.startswith("  ")]
