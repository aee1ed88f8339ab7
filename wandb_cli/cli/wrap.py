"""`wbrun -- COMMAND` (the hidden `wrap` command) and `wbrun log`."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, open_store, parse_pairs
from wandb_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("wrap", context_settings={"allow_interspersed_args": False,
                                          "ignore_unknown_options": False})(wrap)
    app.command("log")(log)


def wrap(
    command: List[str] = typer.Argument(None, metavar="-- COMMAND [ARGS]...", show_default=False),
    project: Optional[str] = typer.Option(None, "-p", "--project", help="Project (default Uncategorized)."),
    entity: Optional[str] = typer.Option(None, "-e", "--entity", help="Entity (default: your user name)."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="Run name (default adjective-noun-N)."),
    run_id: Optional[str] = typer.Option(None, "--id", help="Run ID (default: 8 random [a-z0-9])."),
    notes: Optional[str] = typer.Option(None, "--notes", help="Description of the run."),
    tags: List[str] = typer.Option([], "-t", "--tag", help="Tag (repeatable)."),
    group: Optional[str] = typer.Option(None, "-g", "--group", help="Group."),
    job_type: Optional[str] = typer.Option(None, "-j", "--job-type", help="Job type."),
    config: List[str] = typer.Option([], "-c", "--config", help="KEY=VALUE (repeatable; JSON values)."),
    config_file: Optional[Path] = typer.Option(None, "--config-file", help="JSON file of config."),
    resume: str = typer.Option("never", "--resume", help="never, allow or must."),
    dir: DirOption = None,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No closing summary on stderr."),
    no_capture: bool = typer.Option(False, "--no-capture", help="Do not turn key=value output lines into metrics."),
    system_interval: Optional[float] = typer.Option(None, "--system-interval", help="Seconds between system samples (default 15, min 0.1)."),
    no_system: bool = typer.Option(False, "--no-system", help="Do not sample system metrics."),
) -> None:
    """Run COMMAND as a run: wbrun [OPTIONS] -- COMMAND [ARGS]...

    Example: wbrun -p mnist -t baseline -c lr=0.01 -- python train.py --epochs 10
    """
    from wandb_cli.recorder import RunSpec
    from wandb_cli.supervise import WrapOptions, Wrapper

    if not command:
        raise UsageError("nothing to run: give a command after --, e.g. wbrun -- python train.py")
    values = _config_file(config_file)
    values.update(parse_pairs(config, "--config"))
    spec = RunSpec(project=project, entity=entity, name=name, id=run_id, notes=notes,
                   tags=list(tags), group=group, job_type=job_type, config=values, resume=resume)
    options = WrapOptions(spec=spec, quiet=quiet, capture=not no_capture, system=not no_system,
                          system_interval=system_interval)
    status = Wrapper(list(command), options, open_store(dir)).run()
    raise typer.Exit(status)


def _config_file(path: Path | None) -> dict:
    if path is None:
        return {}
    from wandb_cli import jsonio

    try:
        values = jsonio.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read --config-file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"--config-file {path} is not valid JSON: {exc}") from None
    if not isinstance(values, dict):
        raise UsageError(f"--config-file {path} must hold a JSON object")
    return values


def log(
    pairs: List[str] = typer.Argument(..., metavar="KEY=VALUE...", help="Metrics to log."),
    step: Optional[int] = typer.Option(None, "--step", help="Step number (default: the next one)."),
) -> None:
    """Append a step to the enclosing wrapped run (from a shell script or any language).

    Example: wbrun -- bash -c 'for i in 1 2 3; do wbrun log loss=0.$i; done'
    """
    from wandb_cli.recorder import attach

    run_dir = os.environ.get("WBRUN_RUN_DIR")
    if not run_dir:
        raise UsageError("not inside a run: `wbrun log` works in a command started with `wbrun -- ...`")
    metrics = parse_pairs(pairs, "metric")
    live = attach(Path(run_dir))
    try:
        live.append_step(metrics, step=step)
    except TypeError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.flush()
