"""Cutting a run's data into batches a tracking server accepts.

Invariant: every batch holds at most 1,000 metrics, 100 params, 100 tags, 1,000 entities in
all, and its estimated request body stays under 1 MB (MLflow's `log-batch` limits,
mlflow/utils/validation.py); items keep their order, so a metric's points go in step order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000
MAX_BODY_BYTES = 1_000_000
BODY_MARGIN = 0.9  # the estimate ignores JSON escaping: stay well under the limit

# ("metric", key, value, timestamp_ms, step) / ("param", key, value) / ("tag", key, value)
Item = tuple


def item_bytes(item: Item) -> int:
    """A generous estimate of the item's JSON size in a log-batch body."""
    if item[0] == "metric":
        return len(item[1].encode()) + 96
    return len(item[1].encode()) + len(str(item[2]).encode()) + 32


@dataclass
class Batch:
    metrics: list = field(default_factory=list)
    params: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    body: int = 64

    @property
    def size(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def fits(self, item: Item, weight: int) -> bool:
        kind = item[0]
        if self.size + 1 > MAX_ENTITIES or self.body + weight > MAX_BODY_BYTES * BODY_MARGIN:
            return False
        if kind == "metric":
            return len(self.metrics) < MAX_METRICS
        if kind == "param":
            return len(self.params) < MAX_PARAMS
        return len(self.tags) < MAX_TAGS

    def add(self, item: Item, weight: int) -> None:
        {"metric": self.metrics, "param": self.params, "tag": self.tags}[item[0]].append(item)
        self.body += weight


def batches(items: Iterable[Item]) -> Iterator[Batch]:
    """`items` in order, packed greedily into batches within every limit."""
    current = Batch()
    for item in items:
        weight = item_bytes(item)
        if current.size and not current.fits(item, weight):
            yield current
            current = Batch()
        current.add(item, weight)
    if current.size:
        yield current
