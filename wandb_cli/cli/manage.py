"""`wbrun runs delete|restore|purge|tag|note|rename|stop`: thin commands over
wandb_cli.lifecycle (and stopping).

Invariant: a command that takes several runs reports one line per run and goes on after a
bad one; any failure makes the exit status non-zero at the end (2 if an input was bad, else
1).  A question is asked only when stdin and stdout are both terminals; otherwise a
destructive command needs --yes (exit 2).
"""
from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional

import typer

from wandb_cli.cli.common import DirOption, open_store, stdout_is_tty
from wandb_cli.errors import UsageError, WbrunError

RUNS_HELP = "Run IDs, unique ID prefixes or names."
RunsArg = typer.Argument(None, metavar="[RUN...]", show_default=False, help=RUNS_HELP)
RequiredRunsArg = typer.Argument(..., metavar="RUN...", show_default=False, help=RUNS_HELP)
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def register(runs_app: typer.Typer) -> None:
    for name, command in (("delete", delete), ("restore", restore), ("purge", purge),
                          ("tag", tag), ("note", note), ("rename", rename), ("stop", stop)):
        runs_app.command(name)(command)


class _Report:
    """Per-run lines: successes on stdout, failures on stderr, remembered for the exit code."""

    def __init__(self) -> None:
        self.failed = 0
        self.code = 0  # the highest exit code of the failures: 2 if any input was bad

    def ok(self, line: str) -> None:
        from wandb_cli.textfmt import printable

        print(printable(line))

    def fail(self, error: WbrunError | str) -> None:
        from wandb_cli.cli.report import print_error

        self.failed += 1
        self.code = max(self.code, int(error.exit_code) if isinstance(error, WbrunError) else 1)
        print_error(error.render() if isinstance(error, WbrunError) else error)

    def each(self, items, action: Callable) -> list:
        """`action(item)` for every item; a WbrunError is reported and the rest go on."""
        results = []
        for item in items:
            try:
                results.append(action(item))
            except WbrunError as exc:
                self.fail(exc)
        return results

    def done(self) -> None:
        sys.stdout.flush()
        if self.failed:
            raise typer.Exit(self.code)


def _label(record) -> str:
    return f"{record.id} ({record.name})"


def _select(store, refs: list[str], filter_expr: str | None, report: _Report) -> list:
    """The runs named by `refs` and those matching `filter_expr`, each once."""
    from wandb_cli.store.lifecycle import find_run

    records = report.each(refs, lambda ref: find_run(store, ref))
    if filter_expr is not None:
        from wandb_cli.query.filter import compile_filter

        every = list(store.iter_runs())
        matches = compile_filter(filter_expr, every)
        records += [record for record in every if matches(record)]
    return list({record.id: record for record in records}.values())


def _confirm(action: str, *, yes: bool) -> bool:
    """Whether to `action` ("delete 3 runs"): --yes, else the answer to a question."""
    if yes:
        return True
    if not (os.isatty(0) and stdout_is_tty()):
        raise UsageError(f"refusing to {action} without confirmation (no terminal to ask on): "
                         "pass --yes")
    return typer.confirm(f"{action[0].upper()}{action[1:]}?", default=False)


def _propose(report: _Report, records: list, verb: str, where: str, *, yes: bool) -> bool:
    """List what `verb` would do to `records`, and whether to go ahead."""
    if not records:
        if not report.failed:
            report.ok(f"No runs to {verb}.")
        return False
    report.ok(f"{_plural(len(records), 'run')} to {verb} ({where}):")
    for record in records:
        report.ok(f"  {record.id}  {record.name}  {record.state}  {record.project}")
    if _confirm(f"{verb} {_plural(len(records), 'run')}", yes=yes):
        return True
    report.ok(f"Nothing {verb}d.")
    return False


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def delete(
    runs: Optional[List[str]] = RunsArg,
    filter_expr: Optional[str] = typer.Option(None, "--filter", help="Also every run matching "
                                              "this filter (the language of runs ls)."),
    yes: bool = YesOption,
    force: bool = typer.Option(False, "--force", help="Stop running runs first (see runs stop)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="With --force: seconds "
                                            "between stop signals (default 10)."),
    dir: DirOption = None,
) -> None:
    """Move runs to the trash; `runs restore` brings them back, `runs purge` ends them.

    A running run is refused unless --force.  A deleted run's ID is never used again.

    \b
    Examples:
      wbrun runs delete abc12345
      wbrun runs delete --filter 'state = failed' --yes
    """
    from wandb_cli.store.model import RUNNING
    from wandb_cli.store.stopping import check_timeout

    if not runs and filter_expr is None:
        raise UsageError("give the runs to delete, or --filter EXPR")
    timeout = check_timeout(timeout)
    store, report = open_store(dir), _Report()
    records = _select(store, runs or [], filter_expr, report)
    if not force:
        from wandb_cli.store.lifecycle import maybe_live_message

        for record in [r for r in records if r.state == RUNNING]:
            report.fail(f"run {record.id} is running: stop it first (wbrun runs stop "
                        f"{record.id}) or pass --force")
        for record in [r for r in records if r.maybe_live]:
            report.fail(maybe_live_message(record, "delete"))
        records = [r for r in records if r.state != RUNNING and not r.maybe_live]
    if _propose(report, records, "delete", "to the trash", yes=yes):
        _delete_all(store, records, timeout, report, force=force)
    report.done()


def _delete_all(store, records: list, timeout: float, report: _Report, *, force: bool) -> None:
    from wandb_cli.store import lifecycle
    from wandb_cli.store.model import RUNNING

    running = [r for r in records if r.state == RUNNING]
    if running:
        stopped = _stop_all(store, running, timeout, report)
        records = [r for r in records if r.state != RUNNING] + stopped

    def delete_one(record) -> None:
        lifecycle.delete_run(store, record, force=force)
        report.ok(f"deleted {_label(record)}")
        _mention_artifacts(store, record.id, report)

    report.each(records, delete_one)


def _mention_artifacts(store, run_id: str, report: _Report) -> None:
    from wandb_cli.artifacts import store as artifacts

    try:
        uses = artifacts.artifacts_of_run(store.root, run_id)
    except WbrunError:
        return
    produced = [use.ref for use in uses if use.role == "produced"]
    if produced:
        report.ok(f"  its artifacts stay in the store: {', '.join(produced)}")


def restore(runs: List[str] = RequiredRunsArg, dir: DirOption = None) -> None:
    """Bring deleted runs back from the trash.

    Example: wbrun runs restore abc12345
    """
    from wandb_cli.store import lifecycle

    store, report = open_store(dir), _Report()

    def restore_one(ref: str) -> None:
        record = lifecycle.find_trashed(store, ref)
        lifecycle.restore_run(store, record)
        report.ok(f"restored {_label(record)}")

    report.each(runs, restore_one)
    report.done()


def purge(
    runs: Optional[List[str]] = typer.Argument(None, metavar="[RUN...]", show_default=False,
                                               help="Only these deleted runs (default: all)."),
    older_than: Optional[str] = typer.Option(None, "--older-than", help="Only runs deleted "
                                             "longer ago than this: 90s, 30m, 12h, 7d."),
    yes: bool = YesOption,
    dir: DirOption = None,
) -> None:
    """Remove deleted runs for good; their IDs stay unusable.

    Example: wbrun runs purge --older-than 7d --yes
    """
    from wandb_cli.store import lifecycle

    age = _parse_age(older_than)
    store, report = open_store(dir), _Report()
    lifecycle.sweep_purged(store)
    records = lifecycle.select_trash(store, older_than_s=age)
    if runs:
        named = {r.id for r in report.each(runs, lambda ref: lifecycle.find_trashed(store, ref))}
        records = [r for r in records if r.id in named]
    if _propose(report, records, "purge", "for good", yes=yes):
        def purge_one(r) -> None:
            lifecycle.purge(store, r)
            report.ok(f"purged {_label(r)}")
        report.each(records, purge_one)
    report.done()


def _parse_age(text: str | None) -> float | None:
    if text is None:
        return None
    from wandb_cli.query.parse import parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise UsageError(f"bad --older-than {text!r}: give a duration such as 90s, 30m, 12h or 7d")
    return float(seconds)


def tag(
    args: Optional[List[str]] = typer.Argument(None, metavar="RUN TAG...", show_default=False,
                                               help="The run, then tags to add (with --filter: "
                                                    "tags only)."),
    remove: List[str] = typer.Option([], "--remove", "-r", help="Take this tag off (repeatable)."),
    filter_expr: Optional[str] = typer.Option(None, "--filter", help="Tag every run matching "
                                              "this filter instead of one run."),
    dir: DirOption = None,
) -> None:
    """Add tags to a run, or to every run matching --filter; --remove takes tags off.

    A tag is 1-64 letters, digits, _ - . : / and does not start with -.

    \b
    Examples:
      wbrun runs tag abc12345 baseline v2 --remove draft
      wbrun runs tag --filter 'loss < 0.1' good
    """
    from wandb_cli.store import lifecycle

    args = list(args or [])
    refs, tags = ([], args) if filter_expr is not None else (args[:1], args[1:])
    if not refs and filter_expr is None:
        raise UsageError("give a run and tags: wbrun runs tag RUN TAG...")
    if not tags and not remove:
        raise UsageError("give tags to add, or --remove TAG")
    for item in tags:
        lifecycle.validate_tag(item)
    store, report = open_store(dir), _Report()
    records = _select(store, refs, filter_expr, report)

    def tag_one(record) -> None:
        now = lifecycle.tag(store, record, tags, remove=remove)
        report.ok(f"{_label(record)}: tags {', '.join(now) if now else '(none)'}")

    report.each(records, tag_one)
    if filter_expr is not None and not records:
        report.ok("No runs match the filter.")
    report.done()


def note(
    run: str = typer.Argument(..., metavar="RUN", help="Run ID, unique ID prefix or name."),
    text: str = typer.Argument(..., metavar="TEXT", help="The description; - reads standard input."),
    append: bool = typer.Option(False, "--append", "-a", help="Add TEXT as a new line."),
    dir: DirOption = None,
) -> None:
    """Set a run's description (notes); an empty TEXT clears it.

    \b
    Examples:
      wbrun runs note abc12345 'lr too high'
      git log -1 | wbrun runs note abc12345 - --append
    """
    from wandb_cli.store import lifecycle

    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    store = open_store(dir)
    record = lifecycle.find_run(store, run)
    lifecycle.set_note(store, record, text, append=append)
    _Report().ok(f"{_label(record)}: notes {'appended' if append else 'set'}")


def rename(
    run: str = typer.Argument(..., metavar="RUN", help="Run ID, unique ID prefix or name."),
    new_name: str = typer.Argument(..., metavar="NEW_NAME", help="The new display name."),
    dir: DirOption = None,
) -> None:
    """Give a run a new display name (its ID stays).

    Example: wbrun runs rename abc12345 baseline-adam
    """
    from wandb_cli.store import lifecycle

    store = open_store(dir)
    record = lifecycle.find_run(store, run)
    lifecycle.rename(store, record, new_name)
    _Report().ok(f"renamed {record.id}: {record.name} -> {new_name}")


def stop(
    runs: List[str] = RequiredRunsArg,
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds between SIGINT, "
                                            "SIGTERM and SIGKILL (default 10)."),
    force: bool = typer.Option(False, "--force", help="Also ask a run that reads crashed by its heartbeat alone (it may be live on another host)."),
    dir: DirOption = None,
) -> None:
    """Stop running runs, from any terminal or host sharing the store; wait for the end.

    The program gets SIGINT (an SDK-only program: KeyboardInterrupt), then SIGTERM, then
    SIGKILL, --timeout apart, and the run ends killed.  An ended run is left alone.

    Example: wbrun runs stop abc12345 --timeout 30
    """
    from wandb_cli.store.lifecycle import find_run
    from wandb_cli.store.stopping import check_timeout

    timeout = check_timeout(timeout)
    store, report = open_store(dir), _Report()
    records = list({r.id: r for r in report.each(runs, lambda ref: find_run(store, ref))}.values())
    _stop_all(store, records, timeout, report, force=force)
    report.done()


def _stop_all(store, records: list, timeout: float, report: _Report, *, force: bool = False) -> list:
    """Stop `records` together; report each; return the records of those that ended."""
    from wandb_cli.store.model import RUNNING
    from wandb_cli.store.stopping import request_stop, wait_for_end

    requests = report.each(records, lambda r: request_stop(store, r, timeout_s=timeout, force=force))
    ended = []
    for request in wait_for_end(store, requests):
        final, label = request.final, _label(request.record)
        assert final is not None  # wait_for_end settles every request
        if request.already_ended:
            report.ok(f"{label} already ended: {final.state}")
        elif final.state == RUNNING or getattr(final, "maybe_live", False):
            report.fail(f"run {request.record.id} is still running after "
                        f"{request.deadline_s:g}s (on host {final.host}); the stop request "
                        "stays in place")
            continue
        else:
            code = "" if final.exit_code is None else f", exit code {final.exit_code}"
            report.ok(f"stopped {label}: {final.state}{code}")
        ended.append(final)
    return ended
