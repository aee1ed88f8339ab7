"""Fast paths for the commands that sit inside training jobs and shell loops: wrapping
(`wbrun [OPTIONS] -- COMMAND`) and `wbrun log`.

They parse their few options by hand from one table each, so a wrapped run or a logged step
starts without importing Typer (whose newer releases also load Pydantic); the table is also
what `wbrun wrap --help` prints and what the completion scripts read.  Invariant: every
option listed here behaves the same as its description, and bad input is a UsageError
(exit 2) naming the option.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from wandb_cli.errors import UsageError


@dataclass(frozen=True)
class Opt:
    flags: tuple[str, ...]
    dest: str
    kind: str  # "str", "float", "int", "list" (repeatable) or "flag"
    help: str
    metavar: str = ""
    choices: tuple[str, ...] = ()


WRAP_OPTIONS = (
    Opt(("-p", "--project"), "project", "str", "Project (default Uncategorized).", "NAME"),
    Opt(("-e", "--entity"), "entity", "str", "Entity (default: your user name).", "NAME"),
    Opt(("-n", "--name"), "name", "str", "Run name (default adjective-noun-N).", "NAME"),
    Opt(("--id",), "run_id", "str", "Run ID (default: 8 random characters from [a-z0-9]).", "ID"),
    Opt(("--notes",), "notes", "str", "Description of the run.", "TEXT"),
    Opt(("-t", "--tag"), "tags", "list", "Tag (repeatable).", "TAG"),
    Opt(("-g", "--group"), "group", "str", "Group.", "NAME"),
    Opt(("-j", "--job-type"), "job_type", "str", "Job type.", "NAME"),
    Opt(("-c", "--config"), "config", "list", "Config value (repeatable; JSON values are JSON).",
        "KEY=VALUE"),
    Opt(("--config-file",), "config_file", "str", "JSON file of config values.", "PATH"),
    Opt(("--resume",), "resume", "str", "never (default), allow or must.", "MODE",
        ("never", "allow", "must")),
    Opt(("--dir",), "dir", "str", "Store root (default ./wandb, or $WBRUN_DIR).", "DIR"),
    Opt(("-q", "--quiet"), "quiet", "flag", "No closing summary on stderr."),
    Opt(("--no-capture",), "no_capture", "flag", "Do not turn key=value output lines into metrics."),
    Opt(("--system-interval",), "system_interval", "float",
        "Seconds between system-metric samples (default 15, minimum 0.1).", "SECONDS"),
    Opt(("--no-system",), "no_system", "flag", "Do not sample system metrics."),
    Opt(("--rank-zero-only",), "rank_zero_only", "flag",
        "Record only rank 0 (RANK, else SLURM_PROCID); other ranks just run the command."),
    Opt(("--wandb-compat",), "wandb_compat", "str",
        "`import wandb` in the program is wbrun (on, default) or the installed wandb (off); "
        "$WBRUN_WANDB_COMPAT.", "MODE", ("on", "off")),
    Opt(("-h", "--help"), "help", "flag", "Show this message and exit."),
)

LOG_OPTIONS = (
    Opt(("--step",), "step", "int", "Step number (default: the next one).", "N"),
    Opt(("-h", "--help"), "help", "flag", "Show this message and exit."),
)

WRAP_HELP = """Usage: wbrun [OPTIONS] -- COMMAND [ARGS]...

  Run COMMAND as a run: its output, metrics, system metrics and state are recorded.

  Example: wbrun -p mnist -t baseline -c lr=0.01 -- python train.py --epochs 10
"""

# wbrun's subcommands (cli/app.py): a wrap without `--` never runs a program so named
SUBCOMMANDS = ("runs", "ui", "sync", "doctor", "artifact", "import", "save", "log")

LOG_HELP = """Usage: wbrun log [OPTIONS] KEY=VALUE...

  Append a step to the enclosing wrapped run (from a shell script or any language).

  Example: wbrun -- bash -c 'for i in 1 2 3; do wbrun log loss=0.$i; done'
"""


def _convert(opt: Opt, flag: str, raw: str):
    if opt.kind in ("str", "list"):
        if opt.choices and raw not in opt.choices:
            raise UsageError(f"bad {flag} {raw!r}: choose {', '.join(opt.choices[:-1])} "
                             f"or {opt.choices[-1]}")
        return raw
    try:
        return float(raw) if opt.kind == "float" else int(raw)
    except ValueError:
        raise UsageError(f"bad {flag} {raw!r}: expected a number") from None


def parse(argv: list[str], options: tuple[Opt, ...], *, stop_at_positional: bool):
    """(values by dest, remaining arguments).  Stops at `--`, or at the first positional
    argument when `stop_at_positional` (the wrapped command's own options are its own)."""
    by_flag = {flag: opt for opt in options for flag in opt.flags}
    values: dict = {opt.dest: ([] if opt.kind == "list" else (False if opt.kind == "flag" else None))
                    for opt in options}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return values, rest + argv[i + 1:]
        if not arg.startswith("-") or arg == "-":
            if stop_at_positional:
                return values, rest + argv[i:]
            rest.append(arg)
            i += 1
            continue
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        opt = by_flag.get(flag)
        if opt is None:
            raise UsageError(f"no such option: {flag}")
        if opt.kind == "flag":
            if inline:
                raise UsageError(f"option {flag} takes no value")
            values[opt.dest] = True
            i += 1
            continue
        if eq or inline:
            raw, i = inline, i + 1
        elif i + 1 < len(argv):
            raw, i = argv[i + 1], i + 2
        else:
            raise UsageError(f"option {flag} needs a value")
        value = _convert(opt, flag, raw)
        if opt.kind == "list":
            values[opt.dest].append(value)
        else:
            values[opt.dest] = value
    return values, rest


def format_help(usage: str, options: tuple[Opt, ...]) -> str:
    lines = [usage, "Options:"]
    rows = [(", ".join(o.flags) + (f" {o.metavar}" if o.metavar else ""), o.help) for o in options]
    width = max(len(left) for left, _ in rows)
    lines += [f"  {left:<{width}}  {text}" for left, text in rows]
    return "\n".join(lines) + "\n"


def wrap_main(argv: list[str]) -> int:
    """`wbrun [OPTIONS] -- COMMAND`; returns the child's exit status."""
    values, command = parse(argv, WRAP_OPTIONS, stop_at_positional=True)
    if values["help"]:
        sys.stdout.write(format_help(WRAP_HELP, WRAP_OPTIONS))
        return 0
    if not command:
        raise UsageError("nothing to run: give a command after --, e.g. wbrun -- python train.py")
    if command[0] in SUBCOMMANDS and argv[len(argv) - len(command) - 1:][:1] != ["--"]:
        # `wbrun --dir S runs ls`: options put before a subcommand, not a program named `runs`
        raise UsageError(f"'{command[0]}' is a wbrun command: its options go after it "
                         f"(wbrun {command[0]} ... --dir DIR); to run a program named "
                         f"'{command[0]}', put -- before it")
    if values["rank_zero_only"]:
        _run_unrecorded_unless_rank_zero(command)
    from wandb_cli.cli.values import open_store, parse_pairs
    from wandb_cli.runner.supervise import WrapOptions, Wrapper
    from wandb_cli.store.recorder import RunSpec

    config = _config_file(values["config_file"])
    config.update(parse_pairs(values["config"], "--config"))
    spec = RunSpec(project=values["project"], entity=values["entity"], name=values["name"],
                   id=values["run_id"], notes=values["notes"], tags=_tags(values["tags"]),
                   group=values["group"], job_type=values["job_type"], config=config,
                   resume=values["resume"] or "never")
    options = WrapOptions(spec=spec, quiet=values["quiet"], capture=not values["no_capture"],
                          system=not values["no_system"], system_interval=values["system_interval"],
                          wandb_compat=values["wandb_compat"])
    return Wrapper(command, options, open_store(values["dir"])).run()


def _run_unrecorded_unless_rank_zero(command: list[str]) -> None:
    """On a rank other than 0, become the command itself (exec), with the SDK disabled so an
    `init()` inside records nothing either; on rank 0 (or no rank at all) return."""
    from wandb_cli.store.cluster import global_rank

    if global_rank(os.environ) in (None, 0):
        return
    os.environ["WBRUN_MODE"] = "disabled"
    for name in ("WBRUN_RUN_DIR", "WBRUN_RUN_ID"):
        os.environ.pop(name, None)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"wbrun: error: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)


def _tags(tags: list[str]) -> list[str]:
    """`-t` values, held to W&B's rule for a run's tags (as init(tags=) is)."""
    from wandb_cli.store.ids import TAG_LENGTHS, tag_length_ok

    for tag in tags:
        if not tag_length_ok(tag):
            from wandb_cli.textfmt import printable

            raise UsageError(f"bad tag '{printable(tag)}': tags must be {TAG_LENGTHS}")
    return tags


def _config_file(path: str | None) -> dict:
    if path is None:
        return {}
    from wandb_cli.cli.values import check_storable, read_limited
    from wandb_cli.store import jsonio

    data = read_limited(path, "--config-file")
    try:
        values = jsonio.loads(data)
    except ValueError as exc:
        raise UsageError(f"--config-file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"--config-file {path} is nested too deeply") from None
    if not isinstance(values, dict):
        raise UsageError(f"--config-file {path} must hold a JSON object")
    check_storable(values, f"--config-file {path}")
    return values


def log_main(argv: list[str]) -> int:
    """`wbrun log KEY=VALUE... [--step N]` inside a wrapped run."""
    values, pairs = parse(argv, LOG_OPTIONS, stop_at_positional=False)
    if values["help"]:
        sys.stdout.write(format_help(LOG_HELP, LOG_OPTIONS))
        return 0
    run_dir = os.environ.get("WBRUN_RUN_DIR")
    if not run_dir:
        raise UsageError("not inside a run: `wbrun log` works in a command started with `wbrun -- ...`")
    if not pairs:
        raise UsageError("nothing to log: give KEY=VALUE pairs")
    from wandb_cli.cli.values import parse_pairs
    from wandb_cli.store.recorder import attach

    metrics = parse_pairs(pairs, "metric")
    live = attach(run_dir)
    state = live.doc.get("state")
    if state != "running":  # a WBRUN_RUN_DIR left over from a run that has ended
        from wandb_cli.errors import StoreError

        raise StoreError(f"run {live.id} has ended ({state}): `wbrun log` adds to a running run; "
                         f"continue it with `wbrun --id {live.id} --resume allow -- ...`")
    try:
        live.append_step(metrics, step=values["step"])
    except TypeError as exc:
        raise UsageError(str(exc)) from None
    return 0
