"""What `runs show` and `runs logs` present, built from the store (render.py draws it)."""
from __future__ import annotations

import os
import sys
from typing import Any

from wandb_cli import jsonio
from wandb_cli.model import RunRecord, iso
from wandb_cli.store import METADATA, OUTPUT, RunPaths


def overview(record: RunRecord) -> dict[str, Any]:
    """The facts W&B's Overview tab shows, as one JSON-able dict."""
    from wandb_cli.history import numeric_series, read_history

    paths = RunPaths(__import__("pathlib").Path(record.dir))
    try:
        meta = jsonio.read_json(paths.file(METADATA), {}) or {}
    except ValueError:
        meta = {}
    series = numeric_series(read_history(record.dir))
    system = system_summary(record)
    return {
        **record.to_dict(),
        "author": record.entity,
        "description": record.notes,
        "command_line": record.command_line,
        "started": iso(record.created),
        "metadata": meta,
        "history": {key: {"min": min(values), "max": max(values), "last": values[-1],
                          "count": len(values)} for key, values in series.items()},
        "system": {key: dict(zip(("min", "mean", "max"), stats[:3])) for key, stats in system.items()},
        "_series": series,  # for sparklines; dropped from JSON output
        "_system_series": {key: stats[3] for key, stats in system.items()},
        "files": _files(paths),
    }


def system_summary(record: RunRecord) -> dict[str, tuple]:
    """Per system metric: (min, mean, max, values) over the run's samples."""
    from wandb_cli.history import numeric_series, read_events

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
    from wandb_cli import render
    from wandb_cli.textsafe import sparkline

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
        ("duration", render.fmt_duration(info["runtime"])), ("exit code", info.get("exit_code")),
        ("host", info["host"]), ("OS", meta.get("os")), ("python", meta.get("python")),
        ("python executable", meta.get("executable")),
        ("git", f"{git.get('remote') or ''} {git.get('commit') or ''}"
                f"{' (dirty)' if git.get('dirty') else ''}".strip() or None),
        ("hardware", _hardware(meta, gpu)), ("wbrun version", meta.get("wbrun_version")),
        ("directory", info["dir"]),
        *(("problem", p) for p in info.get("problems", [])),
    ]))
    for title, mapping in (("Config", info["config"]), ("Summary", info["summary"])):
        if mapping:
            con.print(render.section(title))
            con.print(render.key_values(sorted(mapping.items())))
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
        con.print(render.table(["file", "size"], [[f["path"], f["size"]] for f in info["files"]]))


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


def print_output(record: RunRecord, *, raw: bool) -> None:
    """output.log to stdout: exact bytes with --raw; else colours kept on a terminal and all
    other escape sequences removed, so a program's output cannot drive the terminal now."""
    from wandb_cli.textsafe import terminal_safe_output

    path = RunPaths(__import__("pathlib").Path(record.dir)).file(OUTPUT)
    keep_colors = os.isatty(1) and not os.environ.get("NO_COLOR")
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    out = sys.stdout.buffer
    with fh:
        for line in fh:  # whole lines, so an escape sequence is never cut in two
            out.write(line if raw else terminal_safe_output(line, keep_colors=keep_colors))
    out.flush()
