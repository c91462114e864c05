"""Images as the model takes them: PNG, JPEG, GIF or WebP, long edge and encoded size capped, as data URLs.

Claude on managed platforms takes base64 images only, at most 5 MB each after encoding, and works best
with a long edge of at most 1,568 px (larger ones are scaled down by the service anyway, at a cost in
time). Images already within bounds are passed through untouched; others are scaled down with Pillow.
CPU- and memory-heavy: call `prepare_image` in a worker (bot.files.workers).
"""

from __future__ import annotations

import base64
import io
import re

from PIL import Image, UnidentifiedImageError

MAX_LONG_EDGE = 1568
MAX_ENCODED_BYTES = 5 * 1024 * 1024
# Decoding more pixels than this is refused: a small file can unpack into gigabytes (a "decompression
# bomb"). Scaling one down takes up to 6 bytes a pixel (the decoded image, a converted copy, the reduced
# one): 16 megapixels (a 5K screenshot, a long page) fit in a worker's 192 MB with the file itself. A JPEG
# is decoded at 1/2, 1/4 or 1/8 of its size when that is still larger than needed, and counted so.
MAX_PIXELS = 16_000_000
# Pillow decodes a WebP at about 17 bytes a pixel (libwebp's canvas, a copy as bytes, the image): a worker
# holds 6 megapixels of it (about 160 MB at peak), not more.
MAX_WEBP_PIXELS = 6_000_000
# A progressive JPEG is decoded at 1/8 all the same, but libjpeg first holds all its coefficients at full size
# (2 bytes a sample): at most this many bytes of them in a worker (a 4:2:0 photo of 32 megapixels).
MAX_COEFFICIENT_BYTES = 96 * 1024 * 1024
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
JPEG_QUALITIES = (85, 70, 50)
# Pixels converted and reduced at a time when scaling down (bot.files.images._reduced).
STRIP_PIXELS = 1_000_000

# Heroku's model cards list image input for these model ids ("Supported inputs: text, image").
IMAGE_MODEL_IDS = re.compile(r"claude-(4-5-(sonnet|haiku)|opus-4-5|(sonnet|haiku|opus)-4-[5-9]|(sonnet|haiku|opus))")


class NotAnImage(ValueError):
    """The bytes are not an image the model can take, or too large to turn into one."""


class ImageTooLarge(NotAnImage):
    """More pixels than MAX_PIXELS to decode: refused before decoding."""


def model_takes_images(setting: str, model_id: str) -> bool:
    """`MODEL_ACCEPTS_IMAGES`: `true`, `false`, or `auto` (Heroku's image-capable model ids)."""
    if setting == "auto":
        return IMAGE_MODEL_IDS.fullmatch(model_id.lower()) is not None
    return setting == "true"


def prepare_image(
    data: bytes,
    *,
    max_edge: int = MAX_LONG_EDGE,
    max_encoded_bytes: int = MAX_ENCODED_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> str:
    """A data URL of the image, scaled down and re-encoded only when it is too large."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            media_type = FORMATS.get(image.format or "")
            if media_type is None:
                raise NotAnImage(f"{image.format or 'unknown'} images are not supported")
            width, height = image.size
            if max(width, height) <= max_edge and _encoded_size(len(data)) <= max_encoded_bytes:
                # Decoded all the same (a few milliseconds at this size): one cut short or damaged would make
                # the service refuse the whole request ("Could not process image"), not just this image.
                image.load()
                return _data_url(media_type, data)
            coefficients = _progressive_coefficient_bytes(image)
            if coefficients > MAX_COEFFICIENT_BYTES:
                limit = MAX_COEFFICIENT_BYTES * width * height // coefficients // 1_000_000
                raise ImageTooLarge(
                    f"{width:,} x {height:,} pixels; I read a progressive JPEG up to {limit} megapixels"
                )
            if image.format == "JPEG":
                # Decodes at the smallest scale (1/2, 1/4, 1/8) that is still at least `max_edge` on each side.
                image.draft("RGB", (max_edge, max_edge))
            if image.width * image.height > max_pixels:
                raise ImageTooLarge(f"{width:,} x {height:,} pixels; I read up to {max_pixels // 1_000_000} megapixels")
            if image.format == "WEBP" and width * height > min(max_pixels, MAX_WEBP_PIXELS):
                limit = min(max_pixels, MAX_WEBP_PIXELS) // 1_000_000
                raise ImageTooLarge(f"{width:,} x {height:,} pixels; I read a WebP up to {limit} megapixels")
            return _downscaled(image, max_edge, max_encoded_bytes)
    except Image.DecompressionBombError as error:
        # Pillow's own limit (twice MAX_IMAGE_PIXELS), far past ours: it does not even open the image.
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0) // 1_000_000
        raise ImageTooLarge(f"over {over} megapixels; I read up to {max_pixels // 1_000_000} megapixels") from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        if isinstance(error, NotAnImage):
            raise
        raise NotAnImage("not a readable image") from error


def _downscaled(image: Image.Image, max_edge: int, max_encoded_bytes: int) -> str:
    frame = _reduced(image, max_edge)
    # Bicubic is near Lanczos for a downscale like this, at two thirds of its time (see bench/).
    frame.thumbnail((max_edge, max_edge), Image.Resampling.BICUBIC)
    if frame.mode == "RGBA" or image.format in ("PNG", "GIF"):
        encoded = _encode(frame, "PNG")
        if _encoded_size(len(encoded)) <= max_encoded_bytes:
            return _data_url("image/png", encoded)
        frame = frame.convert("RGB")
    for quality in JPEG_QUALITIES:
        encoded = _encode(frame, "JPEG", quality=quality)
        if _encoded_size(len(encoded)) <= max_encoded_bytes:
            return _data_url("image/jpeg", encoded)
    raise NotAnImage("too large even when scaled down")


def _reduced(image: Image.Image, max_edge: int) -> Image.Image:
    """The image in RGB or RGBA, shrunk by a whole factor to at least `max_edge`, strip by strip. Converted
    whole (a palette to RGBA) and premultiplied whole (as Pillow's `thumbnail` does for alpha), a 16-megapixel
    image took 12 bytes a pixel more than its decoding, past a worker's memory."""
    mode = "RGBA" if _has_alpha(image) else "RGB"
    factor = max(1, max(image.size) // max_edge)
    if factor == 1:
        return image if image.mode == mode else image.convert(mode)
    width, height = image.size
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height)))
        strip = strip if strip.mode == mode else strip.convert(mode)
        reduced.paste(strip.reduce(factor), (0, top // factor))
    return reduced


def _progressive_coefficient_bytes(image: Image.Image) -> int:
    """What libjpeg holds of a progressive JPEG's coefficients while decoding it (0 for any other image)."""
    if image.format != "JPEG" or not image.info.get("progressive"):
        return 0
    layers = list(getattr(image, "layer", []))
    if not layers:
        return 0
    widest = max(h for _, h, _, _ in layers) * max(v for _, _, v, _ in layers)
    samples = sum(h * v for _, h, v, _ in layers) / max(widest, 1)
    width, height = image.size
    return int(width * height * samples * 2)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _encoded_size(raw_bytes: int) -> int:
    return (raw_bytes + 2) // 3 * 4


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def probe_image() -> str:
    """A 16 x 16 red square as a PNG data URL: what `check` shows the model to learn whether it takes images."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (220, 20, 20)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
