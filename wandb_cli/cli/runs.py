"""`wbrun runs ...`: list and inspect runs."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, check_format, open_store

app = typer.Typer(help="List, inspect and manage runs.", no_args_is_help=True,
                  rich_markup_mode=None)


def _print_json(value, *, lines: bool = False) -> None:
    from wandb_cli import jsonio

    if lines:
        out = b"".join(jsonio.dumps(item) + b"\n" for item in value)
    else:
        import orjson

        try:
            out = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
        except TypeError:
            out = jsonio.dumps(value) + b"\n"
        if b"null" in out:  # NaN would have become null: write the faithful form
            out = jsonio.dumps(value) + b"\n"
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


@app.command("ls")
def ls(
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, jsonl, csv or ids."),
    project: Optional[str] = typer.Option(None, "--project", "-p", help="Only this project."),
    state: Optional[str] = typer.Option(None, "--state", help="Only runs in this state."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="At most N runs."),
    dir: DirOption = None,
) -> None:
    """List runs, newest first.

    Example: wbrun runs ls --format json
    """
    from wandb_cli import render

    check_format(fmt, ("table", "json", "jsonl", "csv", "ids"))
    records = sorted(open_store(dir).iter_runs(), key=lambda r: r.created, reverse=True)
    records = [r for r in records if (project is None or r.project == project)
               and (state is None or r.state == state)]
    if limit is not None:
        records = records[:limit]
    if fmt in ("json", "jsonl"):
        _print_json([r.to_dict() for r in records], lines=fmt == "jsonl")
        return
    if fmt == "ids":
        sys.stdout.write("".join(f"{r.id}\n" for r in records))
        return
    metrics = _shared_metrics(records)
    headers = ["id", "name", "state", "project", "created", "runtime", *metrics]
    rows = [[r.id, r.name, render.state_text(r.state), r.project, render.fmt_time(r.created),
             render.fmt_duration(r.runtime), *(r.summary.get(m) for m in metrics)] for r in records]
    if fmt == "csv":
        from wandb_cli.history import to_csv

        sys.stdout.write(to_csv([dict(zip(headers, [r.id, r.name, r.state, r.project,
                                                    render.fmt_time(r.created), r.runtime,
                                                    *(r.summary.get(m) for m in metrics)]))
                                 for r in records], headers))
        return
    render.console().print(render.table(headers, rows))


def _shared_metrics(records) -> list[str]:
    counts: dict[str, int] = {}
    for record in records:
        for key, value in record.summary.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:8]


@app.command("show")
def show(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    dir: DirOption = None,
) -> None:
    """Show a run's overview: state, command, host, git, config and summary.

    Example: wbrun runs show abc12345
    """
    from wandb_cli.views import overview

    check_format(fmt, ("table", "json"))
    store = open_store(dir)
    record = store.find(run)
    info = overview(record)
    if fmt == "json":
        info.pop("_series")
        info.pop("_system_series")
        _print_json(info)
        return
    from wandb_cli.views import print_overview

    print_overview(info)


@app.command("history")
def history(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    dir: DirOption = None,
) -> None:
    """Print a run's metric history, one row per step.

    Example: wbrun runs history abc12345 --format csv
    """
    from wandb_cli.history import read_history

    check_format(fmt, ("table", "json", "csv"))
    _print_rows(read_history(open_store(dir).find(run).dir), fmt)


def _print_rows(rows: list[dict], fmt: str, *, strip_prefix: str = "") -> None:
    """History or system rows as a table, JSON or CSV."""
    from wandb_cli import render
    from wandb_cli.history import columns_of, to_csv

    columns = columns_of(rows)
    if fmt == "json":
        _print_json(rows)
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows, columns))
    else:
        headers = [c[len(strip_prefix):] if c.startswith(strip_prefix) else c for c in columns]
        render.console().print(render.table(headers, [[row.get(c) for c in columns] for row in rows]))


@app.command("logs")
def logs(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    raw: bool = typer.Option(False, "--raw", help="Exact bytes, escape sequences included."),
    dir: DirOption = None,
) -> None:
    """Print a run's terminal output (output.log).

    Example: wbrun runs logs abc12345 | grep loss
    """
    from wandb_cli.views import print_output

    record = open_store(dir).find(run)
    print_output(record, raw=raw)


@app.command("system")
def system(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    dir: DirOption = None,
) -> None:
    """Print a run's system-metric samples (CPU, memory, disk, network, GPUs).

    Example: wbrun runs system abc12345 --format csv
    """
    from wandb_cli.history import read_events

    check_format(fmt, ("table", "json", "csv"))
    _print_rows(read_events(open_store(dir).find(run).dir), fmt, strip_prefix="system.")
