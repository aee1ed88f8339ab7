"""`Audio`, `Video`, `Html` and `Object3D`: media stored as one file each, as W&B stores them.

Invariants: a value made from a file keeps that file's bytes and extension; audio arrays
become 16-bit PCM WAV with the standard library; HTML is never given a link to a remote
stylesheet (W&B injects one: a local tool must not fetch from the network on view).
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from wandb_cli.errors import UsageError
from wandb_cli.media.base import Media, read_source


class Audio(Media):
    """W&B's `wandb.Audio(data_or_path, sample_rate=None, caption=None)`."""

    log_type = "audio-file"
    subdir = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None,
                 caption: str | None = None):
        super().__init__(caption)
        self._sample_rate = sample_rate
        self._duration: float | None = None
        if isinstance(data_or_path, (str, Path)):
            path = Path(data_or_path)
            self._set_content(read_source(path), path.suffix or ".wav")
            return
        if sample_rate is None:
            raise UsageError("wandb.Audio: sample_rate is required when logging audio data")
        self._set_content(_wav(data_or_path, int(sample_rate)), ".wav")

    def extra_json(self) -> dict:
        return {}


def _wav(data: Any, sample_rate: int) -> bytes:
    import wave

    import numpy as np

    samples = np.asarray(data)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2:
        raise UsageError(f"wandb.Audio: data must be 1-D or (samples, channels), not {list(samples.shape)}")
    if samples.dtype.kind == "f":
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    else:
        samples = samples.astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


class Video(Media):
    """W&B's `wandb.Video(data_or_path, caption=None, fps=4, format=None)`: files are kept
    as they are; arrays need an encoder (imageio) to become a GIF or MP4."""

    log_type = "video-file"
    subdir = "videos"
    EXTS = ("gif", "mp4", "webm", "ogg")

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int | None = None,
                 format: str | None = None):
        super().__init__(caption)
        self._width = self._height = None
        if isinstance(data_or_path, (str, Path)):
            path = Path(data_or_path)
            ext = path.suffix[1:].lower()
            if ext not in self.EXTS:
                raise UsageError(f"wandb.Video: file type must be one of {', '.join(self.EXTS)}")
            self._set_content(read_source(path), f".{ext}")
            return
        self._set_content(_encode_video(data_or_path, fps or 4, (format or "gif").lower()),
                          f".{(format or 'gif').lower()}")

    def extra_json(self) -> dict:
        return {}


def _encode_video(data: Any, fps: int, fmt: str) -> bytes:
    """Frames (T, C, H, W) as W&B takes them, written with imageio when it is installed."""
    import numpy as np

    try:
        import imageio.v2 as imageio
    except ImportError:
        raise UsageError("wandb.Video from an array needs an encoder; install it with: "
                         "pip install imageio (or log a video file's path)") from None
    frames = np.asarray(data)
    if frames.ndim == 5:
        frames = frames[0]
    if frames.ndim != 4:
        raise UsageError(f"wandb.Video: frames must be (time, channel, height, width), not {list(frames.shape)}")
    frames = np.clip(frames, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    buffer = io.BytesIO()
    imageio.mimwrite(buffer, list(frames), format=fmt, duration=1000 / fps)
    return buffer.getvalue()


class Html(Media):
    """W&B's `wandb.Html(data, inject=True, data_is_not_path=False)`."""

    log_type = "html-file"
    subdir = "html"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False):
        super().__init__()
        if hasattr(data, "read"):
            text = data.read()
        elif isinstance(data, Path) or (isinstance(data, str) and not data_is_not_path
                                        and data.endswith((".html", ".htm"))
                                        and "\n" not in data and Path(data).is_file()):
            text = read_source(data).decode("utf-8", "replace")
        else:
            text = str(data)
        if inject:
            text = _inject_head(text)
        self._set_content(text.encode("utf-8"), ".html")


def _inject_head(html: str) -> str:
    base = '<base target="_blank">'
    lower = html.lower()
    if "<head>" in lower:
        at = lower.index("<head>") + len("<head>")
        return html[:at] + base + html[at:]
    return base + html


class Object3D(Media):
    """W&B's `wandb.Object3D`: a point cloud array (N, 3|4|6), a `lidar/beta` scene dict,
    or a model file (.obj, .gltf, .glb, .babylon, .stl, .pts.json)."""

    log_type = "object3D-file"
    subdir = "object3D"
    EXTS = (".obj", ".gltf", ".glb", ".babylon", ".stl", ".pts.json")

    def __init__(self, data_or_path: Any, caption: str | None = None, **_kwargs: Any):
        super().__init__(caption)
        if isinstance(data_or_path, (str, Path)):
            name = str(data_or_path).lower()
            ext = next((e for e in self.EXTS if name.endswith(e)), None)
            if ext is None:
                raise UsageError(f"wandb.Object3D: file type must be one of {', '.join(self.EXTS)}")
            self._set_content(read_source(data_or_path), ext)
            return
        if isinstance(data_or_path, dict):
            payload: Any = data_or_path
        else:
            import numpy as np

            points = np.asarray(data_or_path, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] not in (3, 4, 6):
                raise UsageError("wandb.Object3D: a point cloud must be shaped (N, 3), (N, 4) or (N, 6)")
            payload = points.tolist()
        self._set_content(json.dumps(payload).encode("utf-8"), ".pts.json")

    @classmethod
    def from_point_cloud(cls, points: Any, boxes: Any = (), vectors: Any = (),
                         point_cloud_type: str = "lidar/beta") -> Object3D:
        import numpy as np

        scene = {"type": point_cloud_type, "points": np.asarray(points).tolist(),
                 "boxes": list(boxes), "vectors": list(vectors)}
        return cls(scene)
