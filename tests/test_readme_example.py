"""README's "Your own app behind it" runs as written: its module and its routes.yaml, taken
from the README itself, serve the twin through the gateway."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from starlette.testclient import TestClient

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    section = README.read_text().split("### Your own app behind it", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_readme_example_serves_the_twin(tmp_path, monkeypatch):
    (module,) = _blocks("python")
    (routes,) = _blocks("yaml")
    (tmp_path / "mymodule.py").write_text(module)
    (tmp_path / "routes.yaml").write_text(routes)
    (tmp_path / "static").mkdir()  # Flask serves /static/ only when the folder exists
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delitem(sys.modules, "mymodule", raising=False)
    app = importlib.import_module("mymodule").app
    with TestClient(app) as client:
        response = client.get("/hello/3")
    assert response.status_code == 200
    assert response.json() == {"n": 3}
    assert response.headers["x-served-by"] == "fastapi"
