"""What `runs show`, `runs logs` and the history column of `runs ls` present, read from the
store (render.py draws it).

Invariant: program output is shown whole lines at a time, through `terminal_safe_output`
unless --raw, so an escape sequence is never cut in two and cannot drive the terminal;
`--follow` ends only after the run has been seen ended and a read then found no new bytes.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import METADATA, OUTPUT, RUN_DOC, RunPaths, Store
from wandb_cli.store.metrics import read_definitions
from wandb_cli.store.model import RUNNING, RunRecord, iso
from wandb_cli.textfmt import fmt_duration, fmt_size


def overview(record: RunRecord) -> dict[str, Any]:
    """The facts W&B's Overview tab shows, as one JSON-able dict."""

    paths = RunPaths(Path(record.dir))
    try:
        meta = jsonio.read_json(paths.file(METADATA), {}) or {}
    except ValueError:
        meta = {}
    history_stats, series = _history_figures(record)
    system = system_summary(record)
    return {
        **record.to_dict(),
        "author": record.entity,
        "description": record.notes,
        "command_line": record.command_line,
        "started": iso(record.created),
        "metadata": meta,
        "history": history_stats,
        "system": {key: dict(zip(("min", "mean", "max"), stats[:3])) for key, stats in system.items()},
        "_series": series,  # for sparklines; dropped from JSON output
        "_system_series": {key: stats[3] for key, stats in system.items()},
        "files": _files(paths),
        "media": _media(paths),
        "artifacts": _lineage(record),
        "imported": _imported(paths),
        "alerts": _alerts(paths),
        "metrics": read_definitions(paths.files),
    }


def _media(paths: RunPaths) -> list[dict[str, Any]]:
    from wandb_cli.store.mediafiles import list_media

    return list_media(paths.files)


def _alerts(paths: RunPaths) -> list[dict]:
    from wandb_cli.store.history import read_rows
    from wandb_cli.store.layout import ALERTS

    return read_rows(paths.dir, ALERTS)


def _history_figures(record: RunRecord) -> tuple[dict, dict[str, list]]:
    """Per numeric key: {min, max, last, count}, and the values its sparkline draws.  A
    big history is read through its digest (bucket means for the sparkline; min and max
    of its finite values), so memory stays bounded."""
    from wandb_cli.store import digest as digests
    from wandb_cli.store.history import numeric_series, read_history

    if digests.history_size(record.dir) >= digests.SMALL_BYTES:
        digest = digests.load_digest(record.dir)
        stats = {key: value for key, value in digest.history_stats().items()
                 if not key.startswith("_")}
        return stats, {key: digest.bucket_means(key) for key in stats}
    series = numeric_series(read_history(record.dir))
    stats = {key: {"min": min(values), "max": max(values), "last": values[-1],
                   "count": len(values)} for key, values in series.items()}
    return stats, series


def _imported(paths: RunPaths) -> dict | None:
    """Where an imported run came from (its run document's `imported`), else None."""
    try:
        doc = jsonio.read_json(paths.file(RUN_DOC), {}) or {}
    except ValueError:
        return None
    found = doc.get("imported") if isinstance(doc, dict) else None
    return found if isinstance(found, dict) else None


def _pairs(mapping: dict | None) -> str | None:
    return ", ".join(f"{key}={value}" for key, value in mapping.items()) if mapping else None


def _lineage(record: RunRecord) -> dict[str, list]:
    """The artifact versions the run used (inputs) and made (outputs), and any manifest
    that could not be read (`unreadable`, only where there is one)."""
    from wandb_cli.artifacts.runfiles import run_lineage

    return run_lineage(Path(record.dir).parent, record.id)


def system_summary(record: RunRecord) -> dict[str, tuple]:
    """Per system metric: (min, mean, max, values) over the run's samples."""
    from wandb_cli.store.history import numeric_series, read_events

    out = {}
    for key, values in numeric_series(read_events(record.dir)).items():
        out[key] = (min(values), sum(values) / len(values), max(values), values)
    return out


def _files(paths: RunPaths) -> list[dict[str, Any]]:
    out = []
    for folder, _dirs, names in os.walk(paths.files):
        for name in sorted(names):
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            try:
                size = os.path.getsize(full)
            except OSError:
                continue
            out.append({"path": os.path.relpath(full, paths.files), "size": size})
    return out


def print_overview(info: dict[str, Any]) -> None:
    from wandb_cli.textfmt import sparkline
    from wandb_cli.views import render

    meta = info.get("metadata") or {}
    git = meta.get("git") or {}
    gpu = meta.get("gpu") or {}
    con = render.console()
    con.print(render.section(f"Run {info['name']} ({info['id']})"))
    con.print(render.key_values([
        ("state", render.state_text(info["state"])), ("name", info["name"]),
        ("run path", info["path"]), ("author", info["author"]),
        ("description", info.get("description")), ("tags", ", ".join(info["tags"])),
        ("group", info.get("group")), ("job type", info.get("job_type")),
        ("command", info["command_line"]), ("start time", info["started"]),
        ("duration", fmt_duration(info["runtime"])), ("exit code", info.get("exit_code")),
        ("host", info["host"]), ("OS", meta.get("os")), ("python", meta.get("python")),
        ("python executable", meta.get("executable")),
        ("git", f"{git.get('remote') or ''} {git.get('commit') or ''}"
                f"{' (dirty)' if git.get('dirty') else ''}".strip() or None),
        ("hardware", _hardware(meta, gpu)), ("wbrun version", meta.get("wbrun_version")),
        ("directory", info["dir"]),
        *((scope, _pairs(info[scope])) for scope in ("slurm", "dist") if info.get(scope)),
        *((("imported from", f"{info['imported'].get('from')}: {info['imported'].get('source')}"),)
          if info.get("imported") else ()),
        *((label, value) for label, value in (("parent", info.get("parent")),
          ("import wandb", _compat_text(info.get("wandb_compat")))) if value),
        *(("problem", p) for p in info.get("problems", [])),
    ]))
    if info.get("alerts"):
        con.print(render.section("Alerts"))
        con.print(render.table(["step", "level", "title", "text"],
                               [[a.get("_step"), a.get("level"), a.get("title"), a.get("text")]
                                for a in info["alerts"]]))
    from wandb_cli.store.bigdoc import DOC_LIMIT, VALUE_LIMIT
    from wandb_cli.store.layout import CONFIG, SUMMARY
    from wandb_cli.views.output import describe_reference as describe

    for title, mapping, doc in (("Config", info["config"], CONFIG), ("Summary", info["summary"], SUMMARY)):
        shown = sorted((k, describe(v)) for k, v in mapping.items() if k != "_wandb")
        size = (info.get("oversize") or {}).get(doc)
        if size is not None:
            shown.insert(0, ("(truncated)", f"{doc} is {fmt_size(size)}, over the "
                         f"{fmt_size(DOC_LIMIT)} listing limit: values over {fmt_size(VALUE_LIMIT)} "
                         f"shown as <truncated>; the whole document is files/{doc}"))
        if shown:  # (`_wandb` holds chart specs, as in W&B's config: not the user's)
            con.print(render.section(title))
            con.print(render.key_values(shown))
    if info.get("media"):
        con.print(render.section("Media"))
        rows = [[m["kind"], m["key"], m["step"], m["path"], fmt_size(m["size"])] for m in info["media"]]
        con.print(render.table(["kind", "key", "step", "path", "size"], rows))
    if info["history"]:
        con.print(render.section("History"))
        rows = [[key, render.text(sparkline(info["_series"][key])), stats["min"], stats["max"],
                 stats["last"]] for key, stats in sorted(info["history"].items())]
        con.print(render.table(["metric", "", "min", "max", "last"], rows))
    if info["system"]:
        con.print(render.section("System"))
        rows = [[key, render.text(sparkline(info["_system_series"][key])), stats["min"],
                 stats["mean"], stats["max"]] for key, stats in sorted(info["system"].items())]
        con.print(render.table(["metric", "", "min", "mean", "max"], rows))
    if info["files"]:
        con.print(render.section("Files"))
        con.print(render.table(["file", "size"],
                               [[f["path"], fmt_size(f["size"])] for f in info["files"]]))
    for role in ("inputs", "outputs"):
        used = info["artifacts"][role]
        if used:
            con.print(render.section(f"Artifacts: {role}"))
            con.print(render.table(["artifact", "type", "size"],
                                   [[a["ref"], a["type"], fmt_size(a["size"])] for a in used]))


def _compat_text(mode: str | None) -> str | None:
    """What the program's `import wandb` gave it (wrapped runs; see runner/wandb_shim.py)."""
    return {"on": "wbrun's compatibility package", "off": "the program's own (--wandb-compat off)"
            }.get(mode or "")


def _hardware(meta: dict, gpu: Any) -> str | None:
    parts = []
    if meta.get("cpu_count"):
        parts.append(f"{meta['cpu_count']} CPUs")
    total = (meta.get("memory") or {}).get("total")
    if total:
        parts.append(f"{total / 2**30:.1f} GiB memory")
    for device in (gpu.get("gpuNvidia") if isinstance(gpu, dict) else None) or []:
        memory = device.get("memoryTotal")
        parts.append(f"{device.get('name')}" + (f" ({memory / 2**30:.0f} GiB)" if memory else ""))
    return ", ".join(parts) or None


class _OutputWriter(Protocol):
    def __call__(self, data: bytes, *, flush: bool = False) -> None: ...


def _output_writer(*, raw: bool) -> _OutputWriter:
    from wandb_cli.textfmt import terminal_safe_output

    keep_colors = os.isatty(1) and not os.environ.get("NO_COLOR")
    out = sys.stdout.buffer

    def write(data: bytes, *, flush: bool = False) -> None:
        out.write(data if raw else terminal_safe_output(data, keep_colors=keep_colors))
        if flush:
            out.flush()

    return write


def print_output(record: RunRecord, *, raw: bool) -> None:
    """output.log to stdout: exact bytes with --raw; else colours kept on a terminal and all
    other escape sequences removed, so a program's output cannot drive the terminal now."""
    path = RunPaths(Path(record.dir)).file(OUTPUT)
    write = _output_writer(raw=raw)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:  # whole lines, so an escape sequence is never cut in two
            write(line)
    sys.stdout.flush()


def follow_output(store: Store, record: RunRecord, *, raw: bool, poll_s: float = 0.2,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """output.log, then every byte appended to it, until the run is no longer running and
    the file has nothing new (the state is read before the file, so nothing is missed)."""
    path = RunPaths(Path(record.dir)).file(OUTPUT)
    write = _output_writer(raw=raw)
    offset, pending = 0, b""
    while True:
        running = store.read(Path(record.dir)).state == RUNNING
        chunk = _read_from(path, offset)
        offset += len(chunk)
        lines_end = (pending + chunk).rfind(b"\n") + 1
        if lines_end:
            write((pending + chunk)[:lines_end], flush=True)
        pending = (pending + chunk)[lines_end:]
        if not chunk and not running:
            break
        if not chunk:
            sleep(poll_s)
    if pending:
        write(pending, flush=True)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return b""


def history_sparks(records: Sequence[RunRecord], key: str, *, width: int = 16) -> list[str]:
    """One sparkline per run of `key`'s logged history (read only for these runs)."""
    from wandb_cli.query.parse import parse_key
    from wandb_cli.query.values import MISSING, lookup
    from wandb_cli.store import digest as digests
    from wandb_cli.store.history import read_history
    from wandb_cli.textfmt import sparkline

    parsed = parse_key(key)
    if parsed.scope not in (None, "summary"):
        raise UsageError(f"--spark draws a metric's logged history; {key!r} is not a metric")
    lines = []
    for record in records:
        if len(parsed.path) == 1 and digests.history_size(record.dir) >= digests.SMALL_BYTES:
            lines.append(sparkline(digests.load_digest(record.dir).bucket_means(parsed.path[0]), width))
            continue
        values = (lookup(row, parsed.path) for row in read_history(record.dir))
        lines.append(sparkline([v for v in values if v is not MISSING], width))
    return lines
