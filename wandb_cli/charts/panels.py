"""From runs to chart panels for `wbrun runs plot`: which runs, which metrics, which x axis.

Invariant: one panel per metric, and in every panel one item per selected run (a `Line`)
or, when grouping, one item per group (a `Band`), in the same order in every panel, so
colours and legends agree across panels and renderers; a run without the metric stays in
the legend as "(no data)" rather than vanishing.  A requested metric or x key that no
selected run holds as a number is an error, never an empty chart.  Rows are read only
through `read_rows`; nothing here prints, and no typer or rich is imported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from wandb_cli.charts.data import GroupData, Panel, SeriesData, build_panel, history_series
from wandb_cli.errors import UsageError, WbrunError
from wandb_cli.store.layout import HISTORY_KEYS
from wandb_cli.store.model import RunRecord

Rows = Sequence[Mapping]
RowReader = Callable[[RunRecord], Rows]

HISTORY_X = HISTORY_KEYS  # the keys every history row holds
SYSTEM_X = ("_runtime", "_timestamp")  # system samples have no step
SYSTEM_PREFIX = "system."
DEFAULT_METRIC_LIMIT = 6
DEFAULT_RUN_LIMIT = 10  # as W&B charts show the first 10 runs unless told otherwise

# The system metrics drawn by default, in this order, with W&B's chart titles.
_SYSTEM_CHARTS = (
    (re.compile(r"system\.cpu\Z"), "CPU Utilization (%)"),
    (re.compile(r"system\.memory_percent\Z"), "System Memory Utilization (%)"),
    (re.compile(r"system\.proc\.memory\.rssMB\Z"), "Process Memory In Use (MB)"),
    (re.compile(r"system\.gpu\.(\d+)\.gpu\Z"), "GPU {0} Utilization (%)"),
    (re.compile(r"system\.gpu\.(\d+)\.memoryAllocated\Z"), "GPU {0} Memory Allocated (%)"),
)


@dataclass(frozen=True)
class PlotRequest:
    """What to draw; `x_key` None means _step for history, _runtime for system metrics."""

    metrics: tuple[str, ...] = ()
    x_key: str | None = None
    smooth_window: int = 1
    log_y: bool = False
    system: bool = False
    group_by: tuple[str, ...] = ()
    sort: tuple[str, ...] = ()
    metric_limit: int = DEFAULT_METRIC_LIMIT


@dataclass(frozen=True)
class Plot:
    """The panels to draw and notes for the user about what was left out or chosen."""

    panels: list[Panel]
    notes: list[str]


@dataclass(frozen=True)
class _Loaded:
    record: RunRecord
    rows: Rows
    numeric: dict[str, None]  # keys holding at least one number, in first-seen order


# ---- choosing runs ----------------------------------------------------------------------


def select_plot_runs(records: Sequence[RunRecord], *, explicit: bool, filter_expr: str | None = None,
                     search: str | None = None, sort: Sequence[str] = (), limit: int | None = None,
                     grouped: bool = False) -> tuple[list[RunRecord], list[str]]:
    """The runs to plot, and notes.  The selection is `runs ls`'s (filter, search, sort,
    newest first), except that runs named on the command line (`explicit`) keep the order
    they were named in unless sorted.  Without --limit, at most DEFAULT_RUN_LIMIT runs are
    taken unless they were named or are grouped."""
    from wandb_cli.query.filter import select_runs

    if limit is not None and limit < 0:
        raise UsageError(f"bad --limit {limit}: give 0 or more")
    chosen = select_runs(records, filter_expr=filter_expr, search=search, sort=sort)
    if explicit and not sort:
        kept = {record.id for record in chosen}
        chosen = [record for record in records if record.id in kept]
    if not chosen:
        raise WbrunError("no runs selected: " + (f"none of the {len(records)} runs matched" if records else
                                                 "the store has no runs yet (make one with wbrun -- COMMAND)"))
    notes = []
    if limit is None and not explicit and not grouped and len(chosen) > DEFAULT_RUN_LIMIT:
        notes.append(f"plotting the first {DEFAULT_RUN_LIMIT} of {len(chosen)} runs; "
                     "choose with --limit N, --filter or RUN arguments")
        limit = DEFAULT_RUN_LIMIT
    chosen = chosen if limit is None else chosen[:limit]
    if not chosen:
        raise WbrunError("no runs selected: --limit 0 leaves none to plot")
    return chosen, notes


# ---- choosing metrics and the x axis ----------------------------------------------------


def numeric_keys(rows: Rows) -> dict[str, None]:
    """The keys of `rows` that hold at least one number (not a bool), in first-seen order."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in keys and type(value) in (int, float):
                keys[key] = None
    return keys


def resolve_x(requested: str | None, loaded: Sequence[_Loaded], *, system: bool) -> str:
    """The x key (by default the first of HISTORY_X or SYSTEM_X); UsageError if no
    selected run holds a requested one as a number."""
    builtins = SYSTEM_X if system else HISTORY_X
    if requested is None:
        return builtins[0]  # a run without it draws "no data"
    if any(requested in run.numeric for run in loaded):
        return requested
    where = "the system samples" if system else "the history"
    raise UsageError(f"bad --x {requested!r}: not a number in {where} of the selected runs; "
                     f"choose {', '.join(builtins)} or a numeric metric")


def _available(loaded: Sequence[_Loaded], *, system: bool) -> list[str]:
    seen: dict[str, None] = {}
    for run in loaded:
        seen.update(run.numeric)
    return [key for key in seen if not key.startswith("_") and key.startswith(SYSTEM_PREFIX) == system]


def resolve_metrics(requested: Sequence[str], loaded: Sequence[_Loaded], *, system: bool) -> list[str]:
    """The requested metric keys as stored (for system metrics `cpu` means `system.cpu`);
    WbrunError naming every one that no selected run logged as a number."""
    known = {key for run in loaded for key in run.numeric}
    chosen: list[str] = []
    unknown: list[str] = []
    for name in dict.fromkeys(requested):
        if system and name not in known and SYSTEM_PREFIX + name in known:
            name = SYSTEM_PREFIX + name
        (chosen if name in known else unknown).append(name)
    if unknown:
        raise WbrunError(_unknown_metrics(unknown, _available(loaded, system=system), system=system))
    return chosen


def _unknown_metrics(unknown: list[str], available: list[str], *, system: bool) -> str:
    names = ", ".join(repr(name) for name in unknown)
    message = f"no number logged under {names} in the {'system samples' if system else 'history'} of the selected runs"
    if available:
        message += f"; metrics there: {_listing(available)}"
    if not system and any(name.startswith(SYSTEM_PREFIX) for name in unknown):
        message += "; system metrics are drawn with --system"
    return message


def _listing(keys: Sequence[str], most: int = 12) -> str:
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def default_metrics(loaded: Sequence[_Loaded], x_key: str, limit: int) -> tuple[list[str], list[str]]:
    """The numeric history keys shared by the runs that logged any (else those most runs
    have), at most `limit`, with notes on what was left out."""
    counts: dict[str, int] = {}
    logging = 0  # runs with a metric at all: one that logged nothing must not hide the rest
    for run in loaded:
        keys = [key for key in run.numeric if not key.startswith("_") and key != x_key]
        logging += bool(keys)
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        raise WbrunError("nothing to plot: the selected runs logged no numeric metrics")
    shared = [key for key, count in counts.items() if count == logging]
    partial = [key for key in counts if counts[key] < logging]
    notes = []
    if not shared:
        shared, partial = sorted(counts, key=lambda key: -counts[key]), []  # stable: first seen breaks ties
        notes.append("the selected runs share no metric; plotting those most of them logged")
    if partial:
        notes.append(f"not plotted, logged by only some runs: {_listing(partial)}")
    if len(shared) > limit:
        notes.append(f"plotting {limit} of {len(shared)} metrics ({', '.join(shared[:limit])}); "
                     "choose others with --metric KEY")
    return shared[:limit], notes


def system_metrics(loaded: Sequence[_Loaded]) -> list[str]:
    """The CPU, memory and GPU keys present, CPU and memory first, then GPU by index."""
    present = {key for run in loaded for key in run.numeric}
    found = [(rank, int(match.group(1)) if match.groups() else -1, key)
             for key in present for rank, (pattern, _) in enumerate(_SYSTEM_CHARTS)
             if (match := pattern.match(key))]
    if not found:
        raise WbrunError("nothing to plot: the selected runs have no system samples "
                         "(made with --no-system, or ended before the first sample)")
    return [key for _, _, key in sorted(found, key=lambda item: (item[1], item[0]))]


def panel_title(key: str) -> str:
    """W&B's chart title for a known system metric, with its key; other keys as they are."""
    for pattern, title in _SYSTEM_CHARTS:
        match = pattern.match(key)
        if match:
            return f"{title.format(*match.groups())} · {key}"
    return key


# ---- building the panels ----------------------------------------------------------------


def run_labels(records: Sequence[RunRecord]) -> list[str]:
    """Run names, with the ID added where two selected runs share a name."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.name] = counts.get(record.name, 0) + 1
    return [record.name if counts[record.name] == 1 else f"{record.name} ({record.id})" for record in records]


def _series(loaded: Sequence[_Loaded], request: PlotRequest, x_key: str
            ) -> Callable[[str], list[SeriesData | GroupData]]:
    """For a metric, the panel's raw items: one per run, or one per group of runs."""
    by_id = {run.record.id: run for run in loaded}
    if not request.group_by:
        labels = run_labels([run.record for run in loaded])
        return lambda metric: [SeriesData(label, *history_series(run.rows, x_key, metric))
                               for label, run in zip(labels, loaded)]
    from wandb_cli.query.filter import group_runs

    groups = group_runs([run.record for run in loaded], request.group_by, sort=request.sort)
    named = [(", ".join(f"{key}={value}" for key, value in zip(group.keys, group.labels)),
              [by_id[record.id] for record in group.runs]) for group in groups]
    return lambda metric: [GroupData(label, [history_series(run.rows, x_key, metric) for run in runs])
                           for label, runs in named]


def plot_runs(records: Sequence[RunRecord], request: PlotRequest, *,
              read_rows: RowReader | None = None) -> Plot:
    """One panel per metric over `records` (see the module docstring).  `read_rows` gives a
    run's rows; by default its history, or its system samples with `request.system`."""
    if request.smooth_window < 1:
        raise UsageError(f"bad --smooth {request.smooth_window}: expected a window of 1 or more points")
    if not records:
        raise WbrunError("no runs selected")
    read_rows = read_rows or _default_reader(request.system)
    loaded = []
    for record in records:
        rows = read_rows(record)
        loaded.append(_Loaded(record, rows, numeric_keys(rows)))
    x_key = resolve_x(request.x_key, loaded, system=request.system)
    notes: list[str] = []
    if request.metrics:
        metrics = resolve_metrics(request.metrics, loaded, system=request.system)
    elif request.system:
        metrics = system_metrics(loaded)
    else:
        metrics, notes = default_metrics(loaded, x_key, request.metric_limit)
    definitions = [] if request.system else _metric_definitions(loaded)
    if not request.metrics:  # define_metric(hidden=True): left out of the default charts
        metrics = [m for m in metrics if not _defined(definitions, m).get("hidden")]
    panels = []
    for metric in metrics:
        # define_metric(step_metric=...) chooses the default x axis, as in W&B's charts
        axis = x_key if request.x_key else (_defined(definitions, metric).get("step_metric") or x_key)
        panels.append(build_panel(panel_title(metric), _series(loaded, request, axis)(metric),
                                  x_label=axis, smooth_window=request.smooth_window,
                                  log_y=request.log_y))
    return Plot(panels, notes)


def _metric_definitions(loaded: Sequence[_Loaded]) -> list[list[dict]]:
    from pathlib import Path

    from wandb_cli.store.metrics import read_definitions

    return [read_definitions(Path(run.record.dir) / "files") for run in loaded]


def _defined(definitions: list[list[dict]], metric: str) -> dict:
    """The first selected run's definition of `metric` ({} when none defines it)."""
    from wandb_cli.store.metrics import find_definition

    for run_definitions in definitions:
        found = find_definition(run_definitions, metric)
        if found:
            return found
    return {}


def _default_reader(system: bool) -> RowReader:
    from wandb_cli.store.history import read_events

    if system:
        return lambda record: read_events(record.dir)
    return lambda record: history_rows(record.dir)


def history_rows(run_dir) -> Rows:
    """A run's history rows; for a big history, its digest's sample rows (every metric's
    first, min, max and last value of each of up to 1,024 buckets), in bounded memory."""
    from wandb_cli.store import digest
    from wandb_cli.store.history import read_history

    if digest.history_size(run_dir) >= digest.SMALL_BYTES:
        return digest.load_digest(run_dir).sample_rows()
    return read_history(run_dir)
