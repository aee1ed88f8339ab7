"""`wbrun artifact ...` (log, get, ls, show, alias), `wbrun save` and `wbrun runs files`.

Each command parses, makes one core call (artifacts.py, files.py) and prints the result.
Inside a wrapped run (WBRUN_RUN_DIR set) `artifact log` records the run as the producer and
`artifact get` as a consumer, when the run belongs to the store the command uses.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, check_format, open_store
from wandb_cli.errors import UsageError
from wandb_cli.views.output import print_json, warn_left_out

FORMATS = ("table", "json")
FormatOption = typer.Option("table", "--format", "-f", help="table or json.")
RefArgument = typer.Argument(..., metavar="NAME[:VERSION]",
                             help="Artifact name, optionally with :vK, :latest or :ALIAS.")

app = typer.Typer(help="Log, get and inspect versioned artifacts.\n\n"
                       "Example: wbrun artifact show mnist:latest",
                  no_args_is_help=True, rich_markup_mode=None)


def register(root_app: typer.Typer) -> None:
    """`wbrun artifact ...` and `wbrun save`."""
    root_app.add_typer(app, name="artifact")
    root_app.command("save")(save)


def register_runs(runs_app: typer.Typer) -> None:
    """`wbrun runs files`."""
    runs_app.command("files")(files)


def _enclosing_run(root: Path) -> str | None:
    """The wrapped run this command runs inside, if that run lives in the store `root`."""
    run_dir = os.environ.get("WBRUN_RUN_DIR")
    if not run_dir or os.path.realpath(Path(run_dir).parent) != os.path.realpath(root):
        return None
    return os.environ.get("WBRUN_RUN_ID") or None


@app.command("log")
def log(
    path: Path = typer.Argument(..., help="File or folder to store."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Artifact name (default: the path's base name)."),
    type: str = typer.Option("dataset", "--type", "-t", help="Artifact type; a name keeps its first type."),
    alias: List[str] = typer.Option([], "--alias", "-a", help="Alias to point at this version (repeatable)."),
    fmt: str = FormatOption,
    dir: DirOption = None,
) -> None:
    """Store a file or folder as an artifact's next version.

    Example: wbrun artifact log data/ --name mnist --type dataset --alias best
    """
    from wandb_cli.artifacts import store as artifacts
    from wandb_cli.sdk.files import describe_log

    check_format(fmt, FORMATS)
    root = open_store(dir).root
    result = artifacts.log_artifact(root, path, name or Path(os.path.abspath(path)).name, type,
                                    alias, producer_run=_enclosing_run(root))
    if fmt == "json":
        print_json({**result.manifest.to_dict(), "new": result.new})
    else:
        typer.echo(describe_log(result))


@app.command("get")
def get(
    ref: str = RefArgument,
    root: Optional[Path] = typer.Option(None, "--root", help="Folder to put the files in (default ./artifacts/NAME:vK)."),
    fmt: str = FormatOption,
    dir: DirOption = None,
) -> None:
    """Put a version's files in place, verified by digest.

    Example: wbrun artifact get mnist:best --root data/
    """
    from wandb_cli.artifacts import store as artifacts

    check_format(fmt, FORMATS)
    store_root = open_store(dir).root
    manifest = artifacts.resolve(store_root, ref)
    target = root if root is not None else artifacts.default_target_dir(manifest, Path.cwd())
    manifest = artifacts.get_artifact(store_root, manifest.ref, target,
                                      consumer_run=_enclosing_run(store_root))
    if fmt == "json":
        print_json({**manifest.to_dict(), "root": str(target)})
    else:
        from wandb_cli.sdk.files import describe_size
        from wandb_cli.textfmt import printable

        typer.echo(f"got {manifest.ref} into {printable(str(target))} "
                   f"({describe_size(manifest)}, verified)")


@app.command("ls")
def ls(fmt: str = FormatOption, dir: DirOption = None) -> None:
    """List artifacts with their versions and aliases.

    Example: wbrun artifact ls --format json
    """
    from wandb_cli.artifacts import store as artifacts
    from wandb_cli.textfmt import fmt_size, fmt_time
    from wandb_cli.views import render

    check_format(fmt, FORMATS)
    unreadable: list[str] = []
    summaries = artifacts.list_artifacts(open_store(dir).root, unreadable)
    warn_left_out(unreadable)
    if fmt == "json":
        print_json([{"name": s.name, "type": s.type, "versions": s.versions, "aliases": s.aliases,
                      "latest": s.latest.to_dict()} for s in summaries])
        return
    rows = [[s.name, s.type, len(s.versions), f"v{s.latest.version}",
             ", ".join(f"{a}:v{v}" for a, v in sorted(s.aliases.items())),
             fmt_size(s.latest.size), fmt_time(s.latest.created)] for s in summaries]
    render.console().print(render.table(
        ["name", "type", "versions", "latest", "aliases", "size", "created"], rows))


@app.command("show")
def show(ref: str = RefArgument, fmt: str = FormatOption, dir: DirOption = None) -> None:
    """Show a version: files, aliases, producer and consumer runs.

    Example: wbrun artifact show mnist:v1 --format json
    """
    from wandb_cli.artifacts import store as artifacts
    from wandb_cli.sdk.files import describe_size
    from wandb_cli.textfmt import fmt_size, fmt_time
    from wandb_cli.views import render

    check_format(fmt, FORMATS)
    store = open_store(dir)
    manifest = artifacts.show(store.root, ref)
    if fmt == "json":
        print_json(manifest.to_dict())
        return
    con = render.console()
    con.print(render.section(f"Artifact {manifest.ref}"))
    con.print(render.key_values([
        ("type", manifest.type), ("created", fmt_time(manifest.created)),
        ("size", describe_size(manifest)), ("digest", manifest.digest),
        ("aliases", ", ".join(manifest.aliases)),
        ("produced by", _run_label(store, manifest.producer_run)),
        ("used by", ", ".join(_run_label(store, run) for run in manifest.consumers)),
    ]))
    con.print(render.section("Files"))
    con.print(render.table(["file", "size", "sha256"], [
        [f.path, fmt_size(f.size), f.digest[:16]] for f in manifest.files]))


def _run_label(store, run_id: str | None) -> str:
    """'id (name)', or 'id (deleted)' once the run is gone: the version outlives it."""
    if run_id is None:
        return ""
    run_dir = store.dir_of(run_id)
    return f"{run_id} ({store.read(run_dir).name})" if run_dir else f"{run_id} (deleted)"


@app.command("alias")
def alias(
    ref: str = RefArgument,
    new_alias: str = typer.Argument(..., metavar="ALIAS", help="Alias to point at the version (moved from any other)."),
    fmt: str = FormatOption,
    dir: DirOption = None,
) -> None:
    """Point an alias at a version (moving it from another).

    Example: wbrun artifact alias mnist:v3 best
    """
    from wandb_cli.artifacts import store as artifacts

    check_format(fmt, FORMATS)
    manifest = artifacts.add_alias(open_store(dir).root, ref, new_alias)
    if fmt == "json":
        print_json(manifest.to_dict())
    else:
        typer.echo(f"{manifest.name}:{new_alias} now names {manifest.ref}")


def save(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Files, folders or glob patterns."),
    policy: str = typer.Option("live", "--policy", help="now: copy at once; end: when the run ends; live: now and whenever they change (default)."),
    base_path: Optional[Path] = typer.Option(None, "--base-path", help="Keep paths relative to this folder (default: the current one)."),
) -> None:
    """Copy files into the enclosing run's files/ folder.

    Example: wbrun -- bash -c 'python train.py && wbrun save checkpoints/ --policy now'
    """
    from wandb_cli.artifacts import runfiles as files
    from wandb_cli.textfmt import printable

    run_dir = os.environ.get("WBRUN_RUN_DIR")
    if not run_dir:
        raise UsageError("not inside a run: `wbrun save` works in a command started with `wbrun -- ...`")
    for saved in files.save(Path(run_dir), list(paths), policy=policy, base_path=base_path,
                            cwd=Path.cwd()):
        for line in _save_lines(saved):
            typer.echo(printable(line))
    sys.stdout.flush()


def _save_lines(saved) -> list[str]:
    if not saved.files:
        when = "appears while the run lives" if saved.policy == "live" else "exists when the run ends"
        return [f"nothing matches {saved.pattern!r} yet; it is saved if it {when}"]
    after = {"now": "", "live": " (and again whenever it changes)",
             "end": " when the run ends"}[saved.policy]
    verb = "will save" if saved.policy == "end" else "saved"
    return [f"{verb} {path}{after}" for path in saved.files]


def files(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    fmt: str = FormatOption,
    dir: DirOption = None,
) -> None:
    """List a run's files: wbrun's documents and saved files.

    Example: wbrun runs files abc12345 --format json
    """
    from wandb_cli.artifacts.runfiles import list_run_files
    from wandb_cli.textfmt import fmt_size, fmt_time
    from wandb_cli.views import render

    check_format(fmt, FORMATS)
    entries = list_run_files(Path(open_store(dir).find(run).dir))
    if fmt == "json":
        print_json([entry.to_dict() for entry in entries])
        return
    render.console().print(render.table(["file", "size", "modified", "kind"], [
        [e.path, fmt_size(e.size), fmt_time(e.modified), e.kind]
        for e in entries]))
