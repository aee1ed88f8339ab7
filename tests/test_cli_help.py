"""Help, version, exit codes and terminal manners of the real `wbrun` entry point.

Every command and subcommand (walked from the CLI itself, so a new one is checked the day
it lands) has a one-line summary and an example in its --help.  Exit codes: 0 success,
1 an error about runs or the store, 2 bad usage or input, each error one line on stderr
without a traceback unless WBRUN_DEBUG=1.  Piped output carries no escape sequences.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import wbrun_cmd

from wandb_cli._version import __version__
from wandb_cli.cli import main
from wandb_cli.cli.completion.spec import commands

COMMANDS = commands()
EXAMPLE = re.compile(r"^\s*Examples?:\s*(.*)$")


def help_problems(text: str) -> list[str]:
    """What a help text lacks: a one-line summary opening it, an `Example: wbrun ...` line."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = [p for p in paragraphs if not p.startswith("Usage:")]
    problems = []
    if not body or len(body[0].splitlines()) != 1 or not body[0].endswith("."):
        problems.append("no one-line summary")
    lines = text.splitlines()
    examples = [i for i, line in enumerate(lines) if EXAMPLE.match(line)]
    if not any("wbrun" in EXAMPLE.match(lines[i]).group(1) + "".join(lines[i + 1:i + 2])
               for i in examples):
        problems.append("no 'Example: wbrun ...' line")
    return problems


def source_help(path: tuple[str, ...]) -> str:
    """The help text as written (docstring or table), before click wraps it."""
    import typer.main

    from wandb_cli.cli import fast
    from wandb_cli.cli.app import build_app

    if path in (("wrap",), ("log",)):
        return fast.WRAP_HELP if path == ("wrap",) else fast.LOG_HELP
    command = typer.main.get_command(build_app())
    for name in path:
        command = command.commands[name]
    return command.help or ""


def help_text(path: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name or "wbrun")
def test_every_command_has_a_summary_and_an_example(command, capsys):
    written = source_help(command.path)
    assert help_problems(written) == [], written
    shown = help_text(command.path, capsys)  # what `wbrun ... --help` really prints
    assert " ".join(command.summary.split()) in " ".join(shown.split())
    assert any(EXAMPLE.match(line) for line in shown.splitlines()), shown


def test_the_walk_finds_every_command_group_and_the_fast_commands():
    names = {c.name for c in COMMANDS}
    assert {"", "wrap", "log", "runs", "runs ls", "runs show", "runs delete"} <= names
    for command in COMMANDS:
        for sub, _ in command.subcommands:
            assert " ".join((*command.path, sub)) in names


@pytest.mark.parametrize("text, problem", [
    ("Usage: wbrun x\n\n  Do things.\n\nOptions:\n  -h  Help.\n", "no 'Example: wbrun ...' line"),
    ("Usage: wbrun x\n\n  Do things\n  over two lines.\n\n  Example: wbrun x\n",
     "no one-line summary"),
    ("Usage: wbrun x\n\n  Do things.\n\n  Example: see the README\n",
     "no 'Example: wbrun ...' line"),
])
def test_the_help_check_catches_a_missing_summary_or_example(text, problem):
    assert problem in help_problems(text)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(wbrun, flag):
    result = wbrun(flag, check_code=0)
    assert result.stdout == f"wbrun {__version__}\n"
    assert result.stderr == ""


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wbrun: error: ") and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args, says", [
    (("runs", "ls", "--bogus"), "No such option: --bogus"),
    (("bogus",), "No such command 'bogus'"),
    (("runs", "show"), "Missing argument"),
    (("runs", "ls", "--limit", "many"), "--limit"),
    (("runs", "ls", "--format", "xml"), "xml"),
    (("--id", "bad id!", "--", "true"), "bad run ID"),
    (("--bogus", "--", "true"), "--bogus"),
    (("runs", "show", "--dir", "."), "Missing argument"),
])
def test_bad_usage_exits_2_with_one_line(wbrun, args, says):
    result = wbrun(*args, check_code=2)
    assert says in one_error_line(result)
    assert result.stdout == ""


def test_a_malformed_filter_exits_2_and_points_at_the_problem(wbrun):
    result = wbrun("runs", "ls", "--filter", "loss <", check_code=2)
    first, *caret = result.stderr.splitlines()
    assert first.startswith("wbrun: error: bad filter") and "Traceback" not in result.stderr
    assert caret and caret[-1].strip() == "^"


def test_an_unknown_run_exits_1_with_one_line(wbrun):
    result = wbrun("runs", "show", "nosuchrun", check_code=1)
    assert "no run matches 'nosuchrun'" in one_error_line(result)


def test_the_wrapped_commands_own_exit_code_comes_back(wbrun):
    wbrun("-q", "--", sys.executable, "-c", "raise SystemExit(7)", check_code=7)


# An internal error cannot be provoked from outside without a bug, so a core call is
# replaced by one that raises, and the real main() runs in a fresh interpreter.
BROKEN = """
import sys
from wandb_cli.store import layout as store
def broken(self, **kwargs):
    raise RuntimeError("the disk said no")
store.Store.iter_runs = broken
from wandb_cli.cli import main
main(["runs", "ls"])
"""


def test_an_internal_error_is_one_line_without_a_traceback():
    result = subprocess.run([sys.executable, "-c", BROKEN], capture_output=True, text=True)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "internal error: RuntimeError: the disk said no" in line and "WBRUN_DEBUG=1" in line


def test_wbrun_debug_shows_the_traceback():
    result = subprocess.run([sys.executable, "-c", BROKEN], capture_output=True, text=True,
                            env={**os.environ, "WBRUN_DEBUG": "1"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: the disk said no" in result.stderr


COLOURFUL = "print('\\x1b[31mred\\x1b[0m'); print('loss=0.5')"


@pytest.fixture
def colourful_env(monkeypatch):
    """As on a user's colour terminal, except that stdout is a pipe."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")


@pytest.mark.parametrize("command, shows", [
    (("runs", "ls"), "red-run"), (("runs", "show", "latest"), "red-run"),
    (("runs", "logs", "latest"), "red"), (("runs", "history", "latest"), "0.5"),
    (("runs", "files", "latest"), "wbrun-run.json"), (("runs", "plot"), "loss"),
    (("runs", "ls", "--group-by", "project"), "Uncategorized"),
])
def test_piped_output_has_no_escape_sequences(wbrun, colourful_env, command, shows):
    wbrun("-q", "-n", "red-run", "--", sys.executable, "-c", COLOURFUL, check_code=0)
    result = wbrun(*command, check_code=0)
    assert shows in result.stdout
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr


def on_a_terminal(*args: str, env: dict) -> bytes:
    """What `wbrun ARGS` writes when its stdout is a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(wbrun_cmd(*args), stdout=follower, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=env, timeout=60)
        os.close(follower)
        follower = -1
        assert done.returncode == 0, done.stderr
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


# An SGR escape that sets a foreground or background colour (NO_COLOR leaves bold alone).
COLOUR_SGR = re.compile(rb"\x1b\[(?:\d+;)*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;\d+)*m")


@pytest.mark.parametrize("command", [("runs", "ls"), ("runs", "show", "latest")])
def test_no_color_is_respected_on_a_terminal(wbrun, colourful_env, command):
    wbrun("-q", "-n", "red-run", "--", sys.executable, "-c", COLOURFUL, check_code=0)
    coloured = on_a_terminal(*command, env=dict(os.environ))
    plain = on_a_terminal(*command, env={**os.environ, "NO_COLOR": "1"})
    assert COLOUR_SGR.search(coloured)  # so the check below could fail
    assert b"red-run" in plain and not COLOUR_SGR.search(plain)


def test_no_question_is_asked_off_a_terminal(wbrun):
    wbrun("-q", "--", "true", check_code=0)
    result = wbrun("runs", "delete", "latest", input="y\n", check_code=2)
    assert "--yes" in one_error_line(result)
    assert wbrun("runs", "show", "latest", check_code=0)


def test_columns_sets_the_table_width_when_piped(wbrun):
    wbrun("-q", "-n", "a-rather-long-run-name-for-the-width-test", "--", "true", check_code=0)
    result = wbrun("runs", "ls", env={"COLUMNS": "60"}, check_code=0)
    assert result.stdout and max(len(line) for line in result.stdout.splitlines()) <= 60
