"""Reading TensorBoard event files into W&B-style history rows (the `tensorboard` package's
own reader does the parsing; nothing here decodes protobuf by hand).

Invariants: one row per TensorBoard step per event file, holding every scalar (and
histogram) written at that step under its tag (prefixed `namespace/` when given) plus
`global_step`, as W&B's TensorBoard sync logs them; float32 values keep their shortest
float32 spelling (0.33333334, not 0.3333333432674408); reading resumes where it stopped,
so a file still being written is read in pieces without loss or repeats; given `since`,
events written before that time are left out (an earlier program's, even in the same file).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError

EVENT_FILE_MARK = "tfevents"


def is_event_file(name: str) -> bool:
    return name.startswith("events.out.") and EVENT_FILE_MARK in name


def event_files(logdir: str | Path) -> list[Path]:
    """The event files directly in `logdir`, in name order (their names start with time)."""
    try:
        names = sorted(os.listdir(logdir))
    except OSError:
        return []
    return [Path(logdir) / name for name in names if is_event_file(name)
            and (Path(logdir) / name).is_file()]


def _loader(path: Path):
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except ImportError:
        raise UsageError("reading TensorBoard event files needs the tensorboard package; "
                         "install it with: pip install tensorboard") from None
    return EventFileLoader(str(path))


class EventStream:
    """One event file read incrementally: `rows()` gives the steps completed so far,
    `rows(final=True)` also the last, possibly still open, step."""

    def __init__(self, path: Path, namespace: str = "", since: float | None = None):
        self.path, self.namespace, self.since = path, namespace, since
        self._loader = _loader(path)
        self._plugins: dict[str, str] = {}
        self._step: int | None = None
        self._values: dict[str, Any] = {}
        self._wall_time: float | None = None

    def rows(self, *, final: bool = False) -> list[dict]:
        out = []
        for event in self._loader.Load():
            if self.since is not None and event.wall_time < self.since:
                continue  # written before the writer we follow was made
            values = self._values_of(event)
            if not values:
                continue
            if self._step is not None and event.step != self._step and self._values:
                out.append(self._row())
            self._step, self._wall_time = int(event.step), float(event.wall_time)
            self._values.update(values)
        if final and self._values:
            out.append(self._row())
        return out

    def _row(self) -> dict:
        row = {**self._values, "global_step": self._step, "_tb_wall_time": self._wall_time}
        self._values = {}
        return row

    def _values_of(self, event: Any) -> dict[str, Any]:
        if not event.HasField("summary"):
            return {}
        values = {}
        for value in event.summary.value:
            tag = f"{self.namespace}/{value.tag}" if self.namespace else value.tag
            plugin = value.metadata.plugin_data.plugin_name or self._plugins.get(tag, "")
            self._plugins[tag] = plugin
            converted = _convert(value, plugin)
            if converted is not None:
                values[tag] = converted
        return values


def _convert(value: Any, plugin: str) -> Any:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return _float32(value.simple_value)
    if kind != "tensor" or plugin not in ("scalars", "histograms"):
        return None  # images, audio, text, PR curves...: not recorded (scalars are)
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(value.tensor)
    if plugin == "scalars":
        if array.size != 1:
            return None
        number = array.reshape(-1)[0]
        return _float32(number) if array.dtype.name == "float32" else number.item()
    if array.ndim != 2 or array.shape[1] != 3 or not len(array):
        return None
    bins = [float(left) for left in array[:, 0]] + [float(array[-1, 1])]
    return {"_type": "histogram", "values": [float(c) for c in array[:, 2]], "bins": bins}


def _float32(number: Any) -> float:
    import numpy as np

    return float(str(np.float32(number)))


def read_logdir(logdir: Path, namespace: str = "") -> Iterator[dict]:
    """Every row of every event file in `logdir`, file by file."""
    for path in event_files(logdir):
        yield from EventStream(path, namespace).rows(final=True)


def run_dirs(root: Path) -> list[Path]:
    """The folders under `root` (itself included) that hold event files: one run each."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        if any(is_event_file(name) for name in names):
            found.append(Path(folder))
    return found
