"""`wbrun runs ...`: list and inspect runs."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, check_format, open_store
from wandb_cli.cli.values import write_table_text
from wandb_cli.errors import UsageError
from wandb_cli.textfmt import check_crop

app = typer.Typer(help="List, inspect and manage runs.\n\nExample: wbrun runs show latest",
                  no_args_is_help=True, rich_markup_mode=None)


def _print_json(value, *, lines: bool = False) -> None:
    from wandb_cli.store import jsonio

    if lines:
        out = b"".join(jsonio.dumps(item) + b"\n" for item in value)
    else:
        import orjson

        try:
            out = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
        except TypeError:
            out = b""
        # orjson writes NaN as null: where a float could be non-finite, write the faithful form
        if not out or (b"null" in out and _may_hold_nonfinite(value)):
            out = jsonio.dumps(value) + b"\n"
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


def _may_hold_nonfinite(value) -> bool:
    """Run records keep their floats in config and summary: look only there (a walk of whole
    records cost ~0.3 s at 100,000 runs); anything else is walked whole."""
    from wandb_cli.store.jsonio import has_nonfinite

    if isinstance(value, list) and all(isinstance(item, dict) and "summary" in item for item in value):
        return any(has_nonfinite(item.get("summary")) or has_nonfinite(item.get("config"))
                   for item in value)
    return has_nonfinite(value)


@app.command("ls")
def ls(
    filter_expr: Optional[str] = typer.Option(
        None, "--filter", help="Filter, e.g. \"val_loss < 0.5 and config.opt = adam\"."),
    search: Optional[str] = typer.Option(None, "--search", "-s", help="Regex over name or ID."),
    sort: List[str] = typer.Option([], "--sort", help="Sort key (repeatable); -KEY descending."),
    group_by: List[str] = typer.Option([], "--group-by", "-g", help="Group by key (repeatable)."),
    columns: Optional[str] = typer.Option(
        None, "--columns", help="Comma-separated keys, e.g. id,name,config.lr,summary.loss."),
    crop: str = typer.Option("middle", "--crop", help="Where long text is cut: start, middle, end."),
    spark: Optional[str] = typer.Option(None, "--spark", help="Add a sparkline of this metric's history."),
    std: bool = typer.Option(False, "--std", help="Groups: mean ± std, not mean (min–max)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, jsonl, csv or ids."),
    project: Optional[str] = typer.Option(None, "--project", "-p", help="Only this project."),
    state: Optional[str] = typer.Option(None, "--state", help="Only runs in this state."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="At most N runs."),
    deleted: bool = typer.Option(False, "--deleted", help="List the runs in the trash instead."),
    dir: DirOption = None,
) -> None:
    """List runs, newest first, filtered, sorted or grouped.

    Example: wbrun runs ls --filter 'val_loss < 0.5' --sort -accuracy --columns id,name,accuracy
    """
    from wandb_cli.views import columns as runs_table

    check_format(fmt, ("table", "json", "jsonl", "csv", "ids"))
    check_crop(crop)
    keys = runs_table.split_keys(columns) if columns is not None else None
    store = open_store(dir)
    rows, total = runs_table.select(
        _load_runs(store, deleted=deleted), project=project, state=state,
        filter_expr=filter_expr, search=search, sort=sort, limit=limit)
    if fmt == "table":
        _note_limit(rows, total, limit)
    if group_by:
        _print_groups(rows, group_by, keys=keys, sort=sort, spark=spark, fmt=fmt, crop=crop,
                      spread="std" if std else "minmax")
    else:
        _print_runs(rows, keys=keys, sort=sort, spark=spark, fmt=fmt, crop=crop)


def _load_runs(store, *, deleted: bool) -> list:
    if deleted:
        from wandb_cli.store.lifecycle import iter_trash

        return list(iter_trash(store))
    records = list(store.iter_runs())
    _warn_damaged(records)
    return records


def _warn_damaged(records: list) -> None:
    """One stderr line per run that could not be read whole; the listing goes on."""
    from wandb_cli.textfmt import printable

    for record in records:
        if record.problems:
            print(f"wbrun: warning: run {printable(record.id)} ({record.state}): "
                  f"{printable('; '.join(record.problems))}", file=sys.stderr)


def _note_limit(rows: list, total: int, limit: Optional[int]) -> None:
    from wandb_cli.views.columns import limit_note

    note = limit_note(len(rows), total, limit)
    if note:
        print(f"wbrun: {note}", file=sys.stderr)
    elif not rows:
        print("wbrun: no runs to list", file=sys.stderr)


def _print_runs(rows: list, *, keys, sort, spark, fmt: str, crop: str) -> None:
    from wandb_cli.views import columns as runs_table

    if fmt in ("json", "jsonl"):
        _print_json([r.to_dict() for r in rows], lines=fmt == "jsonl")
        return
    if fmt == "ids":
        sys.stdout.write("".join(f"{r.id}\n" for r in rows))
        return
    sparks = None
    if spark is not None:
        from wandb_cli.views.overview import history_sparks

        sparks = (spark, history_sparks(rows, spark))
    shown = runs_table.run_columns(rows, columns=keys, sort=sort, sparks=sparks)
    _print_columns(shown, fmt=fmt, crop=crop, rows=len(rows))


def _print_columns(columns: list, *, fmt: str, crop: str, rows: int) -> None:
    """Columns as CSV (all of them, raw values) or as a table fitted to the terminal."""
    from wandb_cli.views import columns as runs_table
    from wandb_cli.views import render

    if fmt == "csv":
        from wandb_cli.store.history import to_csv

        records = [{c.key: c.values[i] for c in columns} for i in range(rows)]
        write_table_text(to_csv(records, [c.key for c in columns]))
        return
    if rows:
        render.print_fitted(runs_table.fit(columns, _table_width(), crop_mode=crop))


def _table_width() -> Optional[int]:
    """$COLUMNS, else the terminal's width; None (no limit) when stdout is not a terminal."""
    import os
    import shutil

    from wandb_cli.cli.common import stdout_is_tty

    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        width = 0
    if width > 0:
        return width
    return shutil.get_terminal_size().columns if stdout_is_tty() else None


def _print_groups(rows: list, group_by: List[str], *, keys, sort, spark, fmt: str, crop: str,
                  spread: str) -> None:
    from wandb_cli.query.filter import group_runs, value_getter
    from wandb_cli.views import columns as runs_table
    from wandb_cli.views import group_table

    if spark is not None:
        raise UsageError("--spark draws each run's history; it does not apply to --group-by")
    if fmt == "ids":
        groups = group_runs(rows, group_by, sort=sort)
        sys.stdout.write("".join(f"{r.id}\n" for g in groups for r in g.runs))
        return
    stats = group_table.stat_columns(runs_table.run_columns(rows, columns=keys, sort=sort),
                                     group_by)
    dist = group_table.distribution_key(
        sort, stats, lambda key: map(value_getter(key, rows), rows))
    groups = group_runs(rows, group_by, stats=[c.key for c in stats], spark=dist, sort=sort)
    if fmt in ("json", "jsonl"):
        _print_json([g.to_dict() for g in groups], lines=fmt == "jsonl")
    elif fmt == "csv":
        from wandb_cli.store.history import to_csv

        headers, flat = group_table.group_csv(groups, group_by, [c.key for c in stats])
        write_table_text(to_csv(flat, headers))
    else:
        shown = group_table.group_columns(groups, group_by, stats, spread=spread, dist_key=dist)
        _print_columns(shown, fmt=fmt, crop=crop, rows=len(groups))


@app.command("compare")
def compare(
    runs: List[str] = typer.Argument(..., help="Two or more runs: ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    crop: str = typer.Option("middle", "--crop", help="Where long text is cut: start, middle, end."),
    dir: DirOption = None,
) -> None:
    """Compare runs' config and summary side by side, differing keys first (marked ≠).

    Example: wbrun runs compare abc12345 def67890 --format json
    """
    from wandb_cli.views import compare as comparing

    check_format(fmt, ("table", "json"))
    check_crop(crop)
    store = open_store(dir)
    records = [store.find(ref) for ref in runs]
    rows = comparing.compare_runs(records)
    if fmt == "json":
        _print_json(comparing.compare_dict(records, rows))
        return
    _print_columns(comparing.compare_columns(records, rows), fmt="table", crop=crop,
                   rows=len(rows))


@app.command("show")
def show(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    dir: DirOption = None,
) -> None:
    """Show a run's overview: state, command, host, git, config and summary.

    Example: wbrun runs show abc12345
    """
    from wandb_cli.views.overview import overview

    check_format(fmt, ("table", "json"))
    store = open_store(dir)
    record = store.find(run)
    info = overview(record)
    if fmt == "json":
        info.pop("_series")
        info.pop("_system_series")
        _print_json(info)
        return
    from wandb_cli.views.overview import print_overview

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
    from wandb_cli.store.history import read_history

    check_format(fmt, ("table", "json", "csv"))
    _print_rows(read_history(open_store(dir).find(run).dir), fmt)


def _print_rows(rows: list[dict], fmt: str, *, strip_prefix: str = "") -> None:
    """History or system rows as a table, JSON or CSV."""
    from wandb_cli.store.history import columns_of, to_csv
    from wandb_cli.views import render

    columns = columns_of(rows)
    if fmt == "json":
        _print_json(rows)
    elif fmt == "csv":
        write_table_text(to_csv(rows, columns))
    else:
        headers = [c[len(strip_prefix):] if c.startswith(strip_prefix) else c for c in columns]
        render.console().print(render.table(headers, [[row.get(c) for c in columns] for row in rows]))


@app.command("logs")
def logs(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    raw: bool = typer.Option(False, "--raw", help="Exact bytes, escape sequences included."),
    follow: bool = typer.Option(False, "--follow", "-F", help="Keep printing until the run ends."),
    dir: DirOption = None,
) -> None:
    """Print a run's terminal output (output.log); --follow streams a live run's.

    Example: wbrun runs logs abc12345 --follow | grep loss
    """
    from wandb_cli.views.overview import follow_output, print_output

    store = open_store(dir)
    record = store.find(run)
    if not follow:
        print_output(record, raw=raw)
        return
    try:
        follow_output(store, record, raw=raw)
    except KeyboardInterrupt:  # Ctrl+C is how a follow ends early: not an error
        raise typer.Exit(0) from None


@app.command("system")
def system(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    dir: DirOption = None,
) -> None:
    """Print a run's system-metric samples (CPU, memory, disk, network, GPUs).

    Example: wbrun runs system abc12345 --format csv
    """
    from wandb_cli.store.history import read_events

    check_format(fmt, ("table", "json", "csv"))
    _print_rows(read_events(open_store(dir).find(run).dir), fmt, strip_prefix="system.")
