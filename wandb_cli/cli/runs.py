"""`wbrun runs ...`: list and inspect runs."""
from __future__ import annotations

from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, check_format, open_store
from wandb_cli.textfmt import check_crop

app = typer.Typer(help="List, inspect and manage runs.\n\nExample: wbrun runs show latest",
                  no_args_is_help=True, rich_markup_mode=None)


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
    from wandb_cli.nogc import end_at_output, hold_until_exit
    from wandb_cli.query.filter import narrow_runs
    from wandb_cli.views import listing
    from wandb_cli.views.columns import split_keys

    check_format(fmt, ("table", "json", "jsonl", "csv", "ids"))
    check_crop(crop)
    keys = split_keys(columns) if columns is not None else None
    # (a JSON listing of runs copies each one's text from the index's rows file)
    records = listing.load_runs(open_store(dir), deleted=deleted, texts=fmt == "json" and not group_by)
    # No run is freed one by one, not even those left out (nogc.exit_holding): dropping the
    # 71,544 of 100,000 runs a filter leaves out took ~0.2 s, holding them +16 MB peak.  The
    # runs shown are among them.
    hold_until_exit(records)
    rows, total = narrow_runs(records, project=project, state=state, filter_expr=filter_expr,
                              search=search, sort=sort, limit=limit)
    if fmt == "table":
        listing.note_limit(rows, total, limit)
    end_at_output()  # (the program ends once the listing is written: nothing of it is freed)
    if group_by:
        listing.print_groups(rows, group_by, keys=keys, sort=sort, spark=spark, fmt=fmt, crop=crop,
                             spread="std" if std else "minmax")
    else:
        listing.print_runs(rows, keys=keys, sort=sort, spark=spark, fmt=fmt, crop=crop)


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
    from wandb_cli.views.listing import print_columns
    from wandb_cli.views.output import print_json

    check_format(fmt, ("table", "json"))
    check_crop(crop)
    store = open_store(dir)
    records = [store.find(ref) for ref in runs]
    rows = comparing.compare_runs(records)
    if fmt == "json":
        print_json(comparing.compare_dict(records, rows))
        return
    print_columns(comparing.compare_columns(records, rows), fmt="table", crop=crop, rows=len(rows))


@app.command("show")
def show(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    dir: DirOption = None,
) -> None:
    """Show a run's overview: state, command, host, git, config and summary.

    Example: wbrun runs show abc12345
    """
    from wandb_cli.views.output import warn_left_out
    from wandb_cli.views.overview import overview

    check_format(fmt, ("table", "json"))
    store = open_store(dir)
    record = store.find(run)
    info = overview(record)
    warn_left_out(info["artifacts"].get("unreadable", []))
    if fmt == "json":
        info.pop("_series")
        info.pop("_system_series")
        from wandb_cli.views.output import print_json

        print_json(info)
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
    from wandb_cli.views.listing import print_history

    check_format(fmt, ("table", "json", "csv"))
    print_history(open_store(dir).find(run).dir, fmt)


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
    from wandb_cli.views.listing import print_rows

    check_format(fmt, ("table", "json", "csv"))
    print_rows(read_events(open_store(dir).find(run).dir), fmt, strip_prefix="system.")
