"""Shapes shared by every resource."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """Base for answers: an unknown key is a documentation bug, so it fails validation."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """The legacy error shape, on both sides."""

    error: str
    code: str


class SuccessOut(Out):
    success: bool
