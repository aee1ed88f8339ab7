"""`Image`: numpy arrays, torch tensors, PIL images, matplotlib figures and image files.

Invariants: pixels are taken as W&B takes them (values already in 0..255, numpy as
(H, W, C), torch as (C, H, W), trivial dimensions squeezed, mode guessed from the
channels); without Pillow, gray/RGB/RGBA PNGs are still written (png.py), and anything
that needs Pillow says to install it.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from wandb_cli.errors import UsageError
from wandb_cli.media.base import Media, read_source
from wandb_cli.media.png import encode_png, png_size

FILE_TYPES = ("png", "jpg", "jpeg", "bmp")
PIL_HINT = "wandb.Image needs Pillow for this; install it with: pip install pillow"


def _pil():
    try:
        from PIL import Image as PILImage
    except ImportError:
        return None
    return PILImage


def _typename(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


class Image(Media):
    """W&B's `wandb.Image(data_or_path, mode=None, caption=None, grouping=None, file_type=None)`."""

    log_type = "image-file"
    subdir = "images"
    MAX_ITEMS = 108

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None,
                 masks: Any = None, file_type: str | None = None):
        super().__init__(caption)
        if boxes is not None or masks is not None or classes is not None:
            import warnings

            warnings.warn("wbrun: wandb.Image boxes/masks/classes are not stored (the image is)",
                          stacklevel=2)
        self._grouping = grouping
        self.format = "png"
        self._width: int | None = None
        self._height: int | None = None
        if isinstance(data_or_path, Image):
            self._copy_from(data_or_path, caption)
        elif isinstance(data_or_path, (str, Path)):
            self._from_path(Path(data_or_path))
        else:
            self._from_data(data_or_path, mode, (file_type or "png").lower())

    @property
    def width(self) -> int | None:
        return self._width

    @property
    def height(self) -> int | None:
        return self._height

    def _copy_from(self, other: Image, caption: str | None) -> None:
        self._set_content(other._content, other._ext)
        self.format, self._width, self._height = other.format, other._width, other._height
        self._grouping = self._grouping if self._grouping is not None else other._grouping
        self._caption = caption if caption is not None else other._caption

    def _from_path(self, path: Path) -> None:
        content = read_source(path)
        self.format = path.suffix[1:].lower() or "png"
        self._set_content(content, path.suffix or ".png")
        size = png_size(content)
        if size is None and _pil() is not None:
            try:
                with _pil().open(io.BytesIO(content)) as opened:
                    size = opened.size
            except Exception:  # not an image Pillow knows: stored as given, without a size
                size = None
        if size is not None:
            self._width, self._height = size

    def _from_data(self, data: Any, mode: str | None, file_type: str) -> None:
        if file_type not in FILE_TYPES:
            raise UsageError(f"wandb.Image: file_type must be one of {', '.join(FILE_TYPES)}")
        self.format = file_type
        name = _typename(data)
        pil = _pil()
        if name.startswith("matplotlib") or getattr(data, "__name__", "") == "matplotlib.pyplot":
            buffer = io.BytesIO()
            figure = data.gcf() if hasattr(data, "gcf") else data
            figure.savefig(buffer, format="png")
            return self._from_encoded(buffer.getvalue(), mode, file_type)
        if pil is not None and isinstance(data, pil.Image):
            return self._save_pil(data.convert(mode) if mode else data, file_type)
        pixels = _to_pixels(data)
        mode = mode or guess_mode(pixels)
        if pil is not None:
            return self._save_pil(pil.fromarray(pixels).convert(mode), file_type)
        if file_type != "png":
            raise UsageError(f"{PIL_HINT} (to write {file_type})")
        pixels = convert_mode(pixels, mode)
        self._height, self._width = int(pixels.shape[0]), int(pixels.shape[1])
        self._set_content(encode_png(pixels), ".png")

    def _from_encoded(self, png: bytes, mode: str | None, file_type: str) -> None:
        pil = _pil()
        if pil is not None and (mode or file_type != "png"):
            with pil.open(io.BytesIO(png)) as opened:
                opened.load()
                return self._save_pil(opened.convert(mode) if mode else opened, file_type)
        self._set_content(png, ".png")
        self._width, self._height = png_size(png) or (None, None)

    def _save_pil(self, picture: Any, file_type: str) -> None:
        if file_type in ("jpg", "jpeg") and picture.mode not in ("L", "RGB"):
            picture = picture.convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format={"jpg": "JPEG"}.get(file_type, file_type.upper()))
        self._width, self._height = picture.size
        self._set_content(buffer.getvalue(), f".{file_type}")

    def extra_json(self) -> dict:
        extra: dict[str, Any] = {"format": self.format}
        if self._width is not None:
            extra["width"] = self._width
        if self._height is not None:
            extra["height"] = self._height
        if self._grouping:
            extra["grouping"] = self._grouping
        return extra

    def __repr__(self) -> str:
        return f"<Image {self.format} {self._width}x{self._height}>"


def _to_pixels(data: Any):
    """A uint8 (H, W[, C]) numpy array from a numpy array, torch tensor or array-like."""
    import numpy as np

    if "torch" in _typename(data) and hasattr(data, "detach"):
        tensor = data.detach().cpu()
        if tensor.ndim == 3:
            tensor = tensor.permute(1, 2, 0)
        data = tensor.numpy()
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray):  # TF eager tensors
        data = data.numpy()
    array = np.asarray(data)
    if array.ndim > 2:
        array = array.squeeze()  # W&B drops trivial dimensions: (1, H, W, 3), (H, W, 1)
    if array.ndim not in (2, 3):
        raise UsageError(f"wandb.Image: unsupported shape {list(array.shape)} for an image")
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array.astype(np.float64)), 0, 255).astype(np.uint8)
    return array


def guess_mode(pixels: Any) -> str:
    """W&B's rule: 2-D or one channel is "L", three "RGB", four "RGBA"."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[-1]
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise UsageError(f"wandb.Image: unsupported shape {list(pixels.shape)} for an image")
    return modes[channels]


def convert_mode(pixels: Any, mode: str):
    """L/RGB/RGBA conversions Pillow would make (ITU-R 601-2 luma for RGB -> L)."""
    import numpy as np

    have = guess_mode(pixels)
    if mode == have:
        return pixels
    if mode not in ("L", "RGB", "RGBA"):
        raise UsageError(f"{PIL_HINT} (mode {mode!r})")
    rgb = pixels[:, :, :3] if have != "L" else np.repeat(pixels.reshape(*pixels.shape[:2], 1), 3, axis=2)
    if mode == "L":
        weights = np.array([299, 587, 114], dtype=np.uint32)
        return ((rgb.astype(np.uint32) * weights).sum(axis=2) // 1000).astype(np.uint8)
    if mode == "RGB":
        return np.ascontiguousarray(rgb)
    alpha = np.full((*rgb.shape[:2], 1), 255, dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def images_json(images: list[Image], files_dir: str | Path, key: str, step: int | str) -> dict:
    """W&B's `images/separated` object for a list of images logged under one key."""
    refs = [image.to_json(files_dir, key, step) for image in images]
    out: dict[str, Any] = {"_type": "images/separated", "width": images[0].width,
                           "height": images[0].height, "format": refs[0]["format"],
                           "count": len(images), "filenames": [ref["path"] for ref in refs]}
    if images[0]._caption is not None:
        out["captions"] = [image._caption for image in images]
    return out
