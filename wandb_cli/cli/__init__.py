"""The `wbrun` entry point: turns arguments into one core call, and errors into exit codes.

`wbrun [OPTIONS] -- COMMAND [ARGS...]` wraps a command as a run; every other form is a
subcommand (`wbrun log`, `wbrun runs ...`).  `--version` answers before anything heavy is
imported.  This is the only place that turns a WbrunError into a message and an exit code.
"""
from __future__ import annotations

import os
import sys

SUBCOMMANDS = ("log", "runs", "artifact", "save", "wrap")


def _wants_wrap(argv: list[str]) -> bool:
    """`wbrun [OPTIONS] -- CMD`: options (and their values) before a `--`, no subcommand."""
    if "--" not in argv:
        return False
    head = argv[: argv.index("--")]
    return not head or (head[0].startswith("-") and head[0] not in ("--help", "-h", "--version"))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        from wandb_cli._version import __version__

        print(f"wbrun {__version__}")
        return
    if _wants_wrap(argv):
        argv = ["wrap", *argv]
    from wandb_cli.errors import WbrunError

    try:
        from wandb_cli.cli.app import build_app

        build_app()(args=argv, prog_name="wbrun")
    except WbrunError as exc:
        _fail(exc.render(), int(exc.exit_code))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, unless debugging
        if os.environ.get("WBRUN_DEBUG") == "1":
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set WBRUN_DEBUG=1 for a traceback)", 1)


def _fail(message: str, code: int) -> None:
    from wandb_cli.textsafe import printable

    first, *rest = message.split("\n")
    print(f"wbrun: error: {printable(first)}", file=sys.stderr)
    for line in rest:  # the filter caret lines
        print(printable(line), file=sys.stderr)
    sys.exit(code)


def _quiet_broken_pipe() -> None:
    # `wbrun runs ls | head`: the reader left; exit quietly as other Unix tools do.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(1)
