"""What the shell completion scripts know about wbrun, read from the CLI itself.

Invariant: every command, option and fixed choice in the generated scripts comes from here,
and everything here comes from the command tree `wbrun` runs (typer's click commands, plus
the hand-parsed option tables of the fast commands in cli/fast.py), so renaming or adding an
option changes the scripts and the freshness test notices.  Only how a value completes is
decided here by name: the tables below say which options and arguments take store values
(run IDs and names, keys, projects), which `wbrun __complete` supplies on each Tab.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from wandb_cli.store.model import STATES

# How a value completes: "text" (nothing to offer), "choice", "file", "dir", or a kind that
# wandb_cli.completion reads from the store.
STORE_KINDS = ("runs", "trash", "keys", "sort", "columns", "projects")
KEY_OPTIONS = {"--sort": "sort", "--group-by": "keys", "--columns": "columns",
               "--metric": "keys", "--spark": "keys", "--x": "keys", "--project": "projects"}
TRASH_COMMANDS = ("restore", "purge")  # their RUN arguments name deleted runs
FIXED_CHOICES = {"--state": STATES}
# `table, json or csv.` or `Where long text is cut: start, middle, end.`
_HELP_CHOICES = re.compile(r"^(?:[^:]*: )?([a-z][\w-]*(?:(?:,? or |, )[a-z][\w-]*)+)\.")


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    value: str | None = None  # None for a flag, else how its value completes
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # () is `wbrun` itself
    summary: str
    options: tuple[Option, ...] = ()
    subcommands: tuple[tuple[str, str], ...] = ()  # (name, summary)
    arguments: tuple[str, ...] = ()  # how each positional completes; the last may repeat
    repeat: bool = False
    wraps: bool = False  # `--` starts a command line of its own (`wbrun [OPTIONS] -- CMD`)

    @property
    def name(self) -> str:
        return " ".join(self.path)


def commands() -> list[Command]:
    """Every command of `wbrun`, root first, each group before its subcommands."""
    import typer.main

    from wandb_cli.cli import fast
    from wandb_cli.cli.app import build_app

    found = {c.path: c for c in _walk(typer.main.get_command(build_app()), (), None)}
    wrap = _fast_command(("wrap",), fast.WRAP_HELP, fast.WRAP_OPTIONS, wraps=True)
    log = _fast_command(("log",), fast.LOG_HELP, fast.LOG_OPTIONS, arguments=("text",))
    found.update({wrap.path: wrap, log.path: log})  # main() sends these to cli/fast.py
    top = found[()]
    subs = dict(top.subcommands) | {"log": log.summary, "wrap": wrap.summary}
    found[()] = Command((), top.summary, _merge(top.options, wrap.options),
                        tuple(sorted(subs.items())), wraps=True)
    return sorted(found.values(), key=lambda c: c.path)


def _walk(cmd, path: tuple[str, ...], parent):
    ctx = cmd.context_class(cmd, info_name=path[-1] if path else "wbrun", parent=parent,
                            **(cmd.context_settings or {}))
    subs = {name: sub for name, sub in (getattr(cmd, "commands", None) or {}).items()
            if not getattr(sub, "hidden", False)}
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    options = tuple(_option(p) for p in params if p.param_type_name == "option")
    arguments = [p for p in params if p.param_type_name == "argument"]
    kinds = tuple(kind for p in arguments for kind in _argument_kinds(p, path))
    yield Command(path, summary(cmd.help or ""), options,
                  tuple(sorted((n, summary(s.help or "")) for n, s in subs.items())),
                  kinds, repeat=bool(arguments) and arguments[-1].nargs == -1)
    for name in sorted(subs):
        yield from _walk(subs[name], (*path, name), ctx)


def summary(help_text: str) -> str:
    """The first line of a command's help: its one-line summary."""
    lines = help_text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _option(param) -> Option:
    flags = tuple(sorted([*param.opts, *param.secondary_opts], key=lambda f: (len(f) > 2, f)))
    help_text = " ".join((param.help or "").split())
    if param.is_flag or getattr(param, "count", False):
        return Option(flags, help_text)
    choices, is_path = _type_facts(param)
    choices = choices or _fixed_choices(flags) or _help_choices(help_text)
    return Option(flags, help_text, _value_kind(flags, choices, is_path), choices)


def _type_facts(param) -> tuple[tuple[str, ...], bool]:
    """(fixed choices, whether a path) from typer's type descriptor or click's ParamType."""
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.24
    if descriptor is not None:
        choices = descriptor.choices if descriptor.is_choice else ()
        return tuple(str(getattr(c, "value", c)) for c in choices), bool(descriptor.is_path)
    kind = getattr(param, "type", None)
    choices = tuple(str(c) for c in getattr(kind, "choices", None) or ())
    return choices, getattr(kind, "name", "") == "path"


def _help_choices(help_text: str) -> tuple[str, ...]:
    """Choices listed where the help opens, `a, b or c.` (how --format names them)."""
    match = _HELP_CHOICES.match(help_text)
    return tuple(re.split(r",? or |, ", match.group(1))) if match else ()


def _fixed_choices(flags: tuple[str, ...]) -> tuple[str, ...]:
    return next((FIXED_CHOICES[flag] for flag in flags if flag in FIXED_CHOICES), ())


def _value_kind(flags: tuple[str, ...], choices: tuple[str, ...], is_path: bool) -> str:
    if "--dir" in flags:
        return "dir"
    for flag in flags:
        if flag in KEY_OPTIONS:
            return KEY_OPTIONS[flag]
    if choices:
        return "choice"
    return "file" if is_path else "text"


def _argument_kinds(param, path: tuple[str, ...]) -> tuple[str, ...]:
    """How an argument's values complete; `RUN TAG...` is a run, then free text."""
    metavar = (param.metavar or param.name or "").upper().lstrip("[")
    if param.name in ("run", "runs") or metavar.startswith("RUN"):
        kind = "trash" if path and path[-1] in TRASH_COMMANDS else "runs"
        return (kind, "text") if metavar.startswith("RUN ") else (kind,)
    is_path = _type_facts(param)[1] or metavar.startswith(("PATH", "FILE"))
    return ("file",) if is_path else ("text",)


def _fast_command(path, help_text: str, table, *, wraps=False, arguments=()) -> Command:
    """A command parsed by hand in cli/fast.py, from its option table and help text."""
    body = help_text.split("\n\n", 1)[1] if "\n\n" in help_text else help_text
    options = []
    for opt in table:
        if opt.kind == "flag":
            options.append(Option(opt.flags, opt.help))
            continue
        is_path = opt.metavar in ("PATH", "FILE")
        options.append(Option(opt.flags, opt.help, _value_kind(opt.flags, opt.choices, is_path),
                              tuple(opt.choices)))
    return Command(path, summary(body), tuple(options), arguments=arguments,
                   repeat=bool(arguments), wraps=wraps)


def _merge(first: tuple[Option, ...], second: tuple[Option, ...]) -> tuple[Option, ...]:
    """`first`, then the options of `second` whose flags are all new (the root takes the
    wrap options, which it parses before `--`)."""
    taken = {flag for option in first for flag in option.flags}
    return (*first, *(o for o in second if not taken & set(o.flags)))
