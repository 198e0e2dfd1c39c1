"""Pillow work as pure functions, bytes in and bytes out, so a worker pool can run them.

Pillow is imported by the functions that decode, not by this module: a process that
makes no image (most requests, every idle process) does not hold it (about 2 MiB of RSS).
Every caller already runs these functions in a worker thread (they are CPU-bound), so the
first one pays the import there, never on an event loop.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL import Image

VIDEO_THUMBNAIL_SIZES: Final = {"small": (160, 90), "medium": (320, 180), "large": (640, 360)}
ARTIST_BOX: Final = (512, 512)
# Well under Pillow's own bomb limit (~89 Mpx), so we refuse before it would only warn.
MAX_PIXELS: Final = 40_000_000
JPEG_QUALITY: Final = 85

# Everything Pillow raises on input it cannot decode: unknown formats, truncated data,
# corrupt chunks, modes it cannot convert.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError)


class ImageRejected(ValueError):
    """The bytes are not an image we accept; the message is safe to show the client."""


def _open(data: bytes) -> Image.Image:
    """Decode fully, refusing bombs by their declared size before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception only where warnings are errors (the tests);
        # elsewhere it is merely printed and the size check below refuses the image.
        raise ImageRejected("Image dimensions are too large") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("File is not a recognised image") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("File is not a readable image") from exc
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ImageRejected("Image dimensions are too large")
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise ImageRejected("Image data is truncated or corrupt") from exc
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Honour EXIF rotation and flatten transparency onto white (JPEG has no alpha)."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def normalize_upload(data: bytes, box: tuple[int, int] = ARTIST_BOX) -> bytes:
    """An uploaded image as an RGB JPEG shrunk to fit `box`; ImageRejected if it is not one."""
    from PIL import Image

    image = _open(data)
    try:
        rgb = _to_rgb(image)
    except _DECODE_ERRORS as exc:
        raise ImageRejected("Image could not be converted") from exc
    # Shrink only: enlarging a small upload adds bytes, not detail.
    rgb.thumbnail(box, Image.Resampling.LANCZOS)
    return _jpeg(rgb)


def fit_jpeg(data: bytes, box: tuple[int, int]) -> bytes:
    """A JPEG scaled up or down to fit within `box`, aspect kept (fixed sizes for the UI)."""
    from PIL import Image, ImageOps

    image = _open(data)
    return _jpeg(ImageOps.contain(_to_rgb(image), box, Image.Resampling.LANCZOS))
