"""What the FastAPI app loads only when it is used or configured: Pillow on the first image
made, Celery only with REDIS_URL. Each probe runs in a fresh interpreter, so what it finds
in sys.modules is what it loaded."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.servers import base_env

ROOT = Path(__file__).resolve().parent.parent

BUILD_THEN_MAKE_AN_IMAGE = """
import json, sys
from pathlib import Path

from fastapi_app import create_fastapi_app
from shared.config import Settings

create_fastapi_app(Settings())
built = sorted({m.partition(".")[0] for m in sys.modules} & {"PIL", "celery"})
from shared.media import images

jpeg = images.fit_jpeg(Path(sys.argv[1]).read_bytes(), (16, 16))
print(json.dumps({"built": built, "after": "PIL" in sys.modules, "jpeg": jpeg[:2].hex()}))
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, object]:
    png = tmp_path / "frame.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    done = subprocess.run(
        [sys.executable, "-c", BUILD_THEN_MAKE_AN_IMAGE, str(png)],
        cwd=ROOT,
        env=base_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_app_builds_without_pillow_or_celery_and_the_first_image_loads_pillow(
    tmp_path: Path,
) -> None:
    found = _probe(tmp_path)
    assert found["built"] == []
    assert found["after"] is True
    assert found["jpeg"] == "ffd8"  # a JPEG, made by Pillow imported on first use


def test_with_redis_url_the_app_loads_celery_at_startup(tmp_path: Path) -> None:
    # The Celery app is built, not connected: no broker needs to answer.
    found = _probe(tmp_path, REDIS_URL="redis://127.0.0.1:9/0")
    assert found["built"] == ["celery"]
