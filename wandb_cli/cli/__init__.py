"""The `wbrun` entry point: turns arguments into one core call, and errors into exit codes.

`wbrun [OPTIONS] -- COMMAND [ARGS...]` wraps a command as a run; every other form is a
subcommand (`wbrun log`, `wbrun runs ...`).  `--version` answers before anything heavy is
imported.  This is the only place that turns a WbrunError into a message and an exit code.
"""
from __future__ import annotations

import os
import sys


def _wants_wrap(argv: list[str]) -> bool:
    """`wbrun [OPTIONS] -- CMD`: wrap options (or `--`) first, where subcommands have a name."""
    if not argv:
        return False
    return argv[0] == "--" or (argv[0].startswith("-") and argv[0] not in ROOT_OPTIONS)


ROOT_OPTIONS = ("--help", "-h", "--version", "-V")


def _fast_path(argv: list[str]):
    """The commands that run inside jobs and loops start without Typer (see cli/fast.py)."""
    if argv[:1] == ["wrap"] or argv[:1] == ["log"] or _wants_wrap(argv):
        from wandb_cli.cli import fast

        if argv[:1] == ["log"]:
            return lambda: fast.log_main(argv[1:])
        return lambda: fast.wrap_main(argv[1:] if argv[:1] == ["wrap"] else argv)
    return None


def main(argv: list[str] | None = None) -> None:
    """The program (`argv` None: the arguments are sys.argv's), or one command run by a
    caller in its own process (a test, an embedding), which the command never ends early."""
    as_program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        from wandb_cli._version import __version__

        print(f"wbrun {__version__}")
        return
    if argv[:1] == ["__complete"]:  # the shells' Tab: no typer, no rich (wandb_cli/completion.py)
        from wandb_cli.cli.completion.values import main as complete

        sys.exit(complete(argv[1:]))
    from wandb_cli.errors import WbrunError

    try:
        fast = _fast_path(argv)
        if fast is not None:
            sys.exit(fast())
        from wandb_cli import nogc
        from wandb_cli.cli.app import build_app

        # The Typer commands are short-lived and build large acyclic structures (100,000
        # runs' records); the one long command, `runs logs --follow`, only prints bytes.
        nogc.release_held()  # (only what this command holds counts)
        nogc.as_program(as_program)
        try:
            with nogc.no_cycle_collection():
                status = _run_app(build_app(), argv)
            if as_program:
                nogc.exit_holding(status)  # a listing's records are left to the kernel to free
        finally:
            nogc.release_held()  # (a caller's process goes on: nothing is kept for it)
            nogc.as_program(False)
        sys.exit(status)
    except WbrunError as exc:
        _fail(exc.render(), int(exc.exit_code))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as exc:
        if os.environ.get("WBRUN_DEBUG") == "1":
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set WBRUN_DEBUG=1 for a traceback)", 1)


def _run_app(app, argv: list[str]) -> int:
    """The Typer app's exit status; its usage errors become one line and exit 2."""
    import typer.main

    try:
        from typer._click import exceptions  # typer >= 0.24 carries its own click
    except ImportError:
        from click import exceptions  # type: ignore[no-redef]  # the older typer's click
    try:
        status = typer.main.get_command(app).main(args=argv, prog_name="wbrun",
                                                  standalone_mode=False)
    except exceptions.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `wbrun` or `wbrun runs`
            exc.show()
            return 2
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(" ".join(exc.format_message().split()) + where, 2)
    except typer.Abort:  # typer >= 0.24 keeps Abort out of its click copy
        _fail("aborted", 1)
    return status if isinstance(status, int) else 0


def _fail(message: str, code: int) -> None:
    from wandb_cli.cli.report import print_error

    print_error(message)
    sys.exit(code)


def _quiet_broken_pipe() -> None:
    # `wbrun runs ls | head`: the reader left; exit quietly as other Unix tools do.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(1)
