"""Plain records of runs, with dict round-trips and no I/O.

A `RunRecord` is what every reader sees (the CLI, the query layer, the JSON output): the
run's attributes, its state as judged when it was read, its config and summary.  Times are
POSIX seconds (floats) in memory and ISO 8601 strings in JSON output.
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
import operator
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

RUNNING, FINISHED, FAILED, KILLED, CRASHED, CORRUPT = (
    "running", "finished", "failed", "killed", "crashed", "corrupt",
)
STATES = (RUNNING, FINISHED, FAILED, KILLED, CRASHED, CORRUPT)
ENDED_STATES = (FINISHED, FAILED, KILLED, CRASHED)

# Attributes a filter, sort or column may name without a prefix (see query.py).
ATTRIBUTES = (
    "id", "name", "state", "project", "entity", "group", "job_type", "tags", "notes",
    "created", "ended", "runtime", "host", "exit_code", "command",
)
# Attribute namespaces read as `slurm.job_id`, `dist.rank` (see store/cluster.py).
CLUSTER_SCOPES = ("slurm", "dist")
# a character that makes shlex.quote quote a word (its own test)
_needs_quotes = re.compile(r"[^\w@%+=:,./-]", re.ASCII).search


def iso(ts: float | None) -> str | None:
    """POSIX seconds to an ISO 8601 UTC string with millisecond precision.

    A float from 1970 to 9999 is spelt here, by datetime's own rounding (to the nearest
    microsecond, ties to even, then cut to milliseconds) at half its cost (`--format json`
    spells two for each of 28,000 runs); anything else by datetime itself."""
    if ts is None:
        return None
    if type(ts) is float and 0.0 <= ts < _YEAR_10000 and _POSIX_UTC:
        fraction, whole = math.modf(ts)
        micro, seconds = round(fraction * 1e6), int(whole)
        if micro == 1_000_000:
            micro, seconds = 0, seconds + 1
        day, second = divmod(seconds, 86400)
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        return f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}.{micro // 1000:03d}Z"
    moment = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_YEAR_10000 = 253402300800.0
# The POSIX seconds a date can spell, from year 1 to 9999, a day short at each end (local
# time east or west of UTC): a time outside them (or NaN) in a document is damage, which
# `iso` and the table's local times would fail on.
EARLIEST_TIME, LATEST_TIME = -62135596800.0 + 86400, _YEAR_10000 - 86400
_EPOCH_DAY = _dt.date(1970, 1, 1).toordinal()
# The C library's UTC counts no leap seconds (not so under TZ=right/...: datetime's spelling
# is then used for every time, as it was before)
_POSIX_UTC = _dt.datetime.fromtimestamp(1_700_000_000, _dt.timezone.utc).replace(tzinfo=None) \
    == _dt.datetime(2023, 11, 14, 22, 13, 20)


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    """The ISO date `day` days after 1970-01-01."""
    return _dt.date.fromordinal(_EPOCH_DAY + day).isoformat()


@dataclass(slots=True)  # 100,000 of them in one `runs ls`: no per-record __dict__
class RunRecord:
    id: str
    name: str
    project: str
    entity: str
    state: str
    created: float
    dir: str
    ended: float | None = None
    heartbeat: float | None = None
    exit_code: int | None = None
    host: str = ""
    pid: int | None = None
    command: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why a run reads as corrupt
    slurm: dict[str, Any] = field(default_factory=dict)  # SLURM job identity (store/cluster.py)
    dist: dict[str, Any] = field(default_factory=dict)  # torchrun identity: rank, world_size...
    # crashed by its heartbeat alone: its recorder may yet be alive on another host
    maybe_live: bool = False
    # seconds spent running, summed over its segments (created, then each resume); None
    # for runs recorded before segments were (then: end - created)
    running_s: float | None = None
    parent: str | None = None  # the wrapped run a program's later init() was linked to
    wandb_compat: str | None = None  # wrapped runs: "on"/"off", what `import wandb` gave
    # config.json/wandb-summary.json over store.bigdoc.DOC_LIMIT: file name -> its size in bytes;
    # config/summary then hold the truncated form (store/bigdoc.py)
    oversize: dict[str, int] = field(default_factory=dict)
    # config and summary hold no NaN or infinity: set where both were parsed from strict JSON
    # (the index's columns file; store/layout.py), cleared where either is replaced, so
    # `--format json` need not look for them (28,000 runs ~0.1 s).  Not part of the index.
    finite: bool = field(default=False, compare=False, repr=False)
    # `--format json`'s text of this run as the index's rows file keeps it (store/rowtext.py):
    # (that file, this run's row in it); set only where the record was built from the columns
    # file the rows file belongs to, cleared where the record is judged.  Not part of the index.
    rendered: Any = field(default=None, compare=False, repr=False)
    # where the record was built from the index's columns file with fields it keeps as text
    # (store/layout.py: DEFERRED_FIELDS): (what parses them, this run's row there); those
    # fields are left unset until first read (or layout.read_deferred sets them on many
    # records at once).  Not part of the index, nor of a copy or pickle (__getstate__;
    # dataclasses.replace and asdict keep it, and `rendered`: nothing here uses them).
    deferred: Any = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        """Every field, those deferred read now, without what reads them for a whole listing
        (a pickle of one record of 100,000 would hold all their texts) nor the open rows file
        (a copy of it would close the original's descriptor)."""
        state = {name: getattr(self, name) for name in _FIELD_NAMES}
        state["deferred"] = state["rendered"] = None
        return None, state

    if not TYPE_CHECKING:  # (to mypy, an attribute no field names stays an error)
        def __getattr__(self, name: str) -> Any:
            """Reached for a slot left unset (a deferred field: read now, and kept) and for a
            name no field has (AttributeError)."""
            source = self.deferred if name != "deferred" else None
            if source is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = source[0].value(name, source[1])
            setattr(self, name, value)
            return value

    @property
    def runtime(self) -> float | None:
        """Seconds the run spent running (the sum of its segments; as of the last heartbeat
        for a live or crashed run); for older runs, from start to end or last sign of life."""
        if self.running_s is not None:
            return self.running_s
        end = self.ended if self.ended is not None else self.heartbeat
        if end is None:
            return None
        return max(0.0, end - self.created)

    @property
    def command_line(self) -> str:
        """The command as a shell would take it (shlex.join); one test of the whole for the
        usual command, whose words need no quotes (100,000 runs: ~0.15 -> ~0.06 s)."""
        words = self.command
        if all(words) and _needs_quotes("".join(words)) is None:
            return " ".join(words)
        import shlex

        return shlex.join(words)

    @property
    def path(self) -> str:
        """W&B's run path: entity/project/id."""
        return f"{self.entity}/{self.project}/{self.id}"

    def attribute(self, key: str) -> Any:
        """The value of a bare attribute for filtering and sorting (times as POSIX seconds)."""
        if key == "runtime":
            return self.runtime
        if key == "command":
            return self.command_line
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable form used by `--format json` (the optional keys last, only
        when set; `runs ls --format json` builds 28,000 of these in one go)."""
        ended = iso(self.ended)  # (an ended run's last heartbeat is its end: spelt once)
        runtime = self.runtime
        out = {
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "entity": self.entity,
            "path": f"{self.entity}/{self.project}/{self.id}",
            "state": self.state,
            "created": iso(self.created),
            "ended": ended,
            "heartbeat": ended if self.heartbeat == self.ended else iso(self.heartbeat),
            "runtime": None if runtime is None else round(runtime, 3),
            "exit_code": self.exit_code,
            "host": self.host,
            "pid": self.pid,
            "command": self.command,
            "tags": list(self.tags),
            "group": self.group,
            "job_type": self.job_type,
            "notes": self.notes,
            "config": self.config,
            "summary": self.summary,
            "dir": self.dir,
        }
        optional = _optional_values(self)  # (one C-level call: most runs have none of them)
        if any(optional):
            for key, value in zip(_OPTIONAL_KEYS, optional):
                if value:
                    out[key] = value
        return out


_FIELD_NAMES = tuple(f.name for f in fields(RunRecord))
# Keys `to_dict` gives only when they hold something, in this order.
_OPTIONAL_KEYS = ("slurm", "dist", "problems", "oversize", "parent", "wandb_compat")
_optional_values = operator.attrgetter(*_OPTIONAL_KEYS)
