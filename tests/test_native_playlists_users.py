"""The playlists and users twins are on the native data path: no sync Session bridged in."""

from __future__ import annotations

import inspect

import pytest

from fastapi_app.routers import playlists, users


@pytest.mark.parametrize("router", [playlists, users], ids=["playlists", "users"])
def test_the_twins_use_no_session_adapter(router):
    source = inspect.getsource(router)
    assert "run_sync(" not in source.replace("to_thread.run_sync(", "")
    assert not hasattr(router, "SessionDep")
    assert "AsyncSession" not in source
