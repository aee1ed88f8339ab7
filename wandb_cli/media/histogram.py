"""`Histogram` and W&B's rule for numeric arrays logged as values.

Invariants: a histogram is stored inline as `{"_type": "histogram", "values": counts,
"bins": edges}` with len(bins) == len(values) + 1 and at most 512 bins; an array or
tensor with one element is logged as that number, up to 32 elements as a list, more as a
32-bin histogram (W&B's `maybe_compress_history`), so no row holds megabytes of numbers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from wandb_cli.errors import UsageError
from wandb_cli.media.base import WBValue

MAX_LIST_ELEMENTS = 32
ARRAY_BINS = 32


class Histogram(WBValue):
    """W&B's `wandb.Histogram(sequence=None, np_histogram=None, num_bins=64)`."""

    MAX_LENGTH = 512
    log_type = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64):
        if np_histogram:
            if len(np_histogram) != 2:
                raise UsageError("wandb.Histogram: np_histogram must be (values, bin_edges)")
            self.histogram = _as_list(np_histogram[0])
            self.bins = _as_list(np_histogram[1])
        else:
            import numpy as np

            counts, edges = np.histogram(_as_numpy(sequence), bins=num_bins)
            self.histogram, self.bins = counts.tolist(), edges.tolist()
        if len(self.histogram) > self.MAX_LENGTH:
            raise UsageError(f"wandb.Histogram: at most {self.MAX_LENGTH} bins")
        if len(self.histogram) + 1 != len(self.bins):
            raise UsageError("wandb.Histogram: len(bins) must be len(values) + 1")

    def to_json(self, files_dir: str | Path | None = None, key: str = "",
                step: int | str = 0) -> dict:
        return {"_type": self.log_type, "values": self.histogram, "bins": self.bins}

    def __repr__(self) -> str:
        return f"<Histogram {len(self.histogram)} bins>"


def _as_list(values: Any) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _as_numpy(values: Any):
    import numpy as np

    if is_tensor(values):
        values = tensor_to_numpy(values)
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]  # numpy refuses NaN/inf ranges; W&B users hit that error


def is_tensor(value: Any) -> bool:
    """A torch, TensorFlow or JAX tensor (by type name: nothing is imported to ask)."""
    module = type(value).__module__ or ""
    return module.startswith(("torch", "tensorflow", "jax", "jaxlib"))


def tensor_to_numpy(value: Any):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):
        return value.numpy()
    import numpy as np

    return np.asarray(value)


def array_value(value: Any) -> Any:
    """W&B's rule for a logged array or tensor: a number, a list (<= 32) or a histogram."""
    array = tensor_to_numpy(value) if is_tensor(value) else value
    size = int(getattr(array, "size", 0))
    if size == 1:
        return array.reshape(-1)[0].item()
    if size <= MAX_LIST_ELEMENTS:
        return array.tolist()
    import numpy as np

    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise UsageError(f"cannot log an array of {array.dtype} with {size} elements; "
                         "log a wandb.Table or a list instead")
    return Histogram(array, num_bins=ARRAY_BINS).to_json()
