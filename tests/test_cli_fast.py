"""The fast paths (wrapping and `wbrun log`): parsing, help and errors, through the real CLI."""
from __future__ import annotations

import json
import sys

import pytest

from wandb_cli.cli.fast import LOG_OPTIONS, WRAP_OPTIONS, parse
from wandb_cli.errors import UsageError


def test_parse_stops_at_the_command_and_keeps_its_options():
    values, rest = parse(["-p", "x", "--tag=a", "-tb", "-q", "--", "python", "-q", "--tag", "z"],
                         WRAP_OPTIONS, stop_at_positional=True)
    assert values["project"] == "x" and values["tags"] == ["a", "b"] and values["quiet"]
    assert rest == ["python", "-q", "--tag", "z"]
    values, rest = parse(["-n", "r", "python", "-n", "x"], WRAP_OPTIONS, stop_at_positional=True)
    assert values["name"] == "r" and rest == ["python", "-n", "x"]


@pytest.mark.parametrize("argv, message", [
    (["--bogus", "--", "true"], "no such option: --bogus"),
    (["-p"], "option -p needs a value"),
    (["--resume", "sometimes", "--", "true"], "bad --resume 'sometimes': choose never, allow or must"),
    (["--system-interval", "fast", "--", "true"], "expected a number"),
    (["-q=1", "--", "true"], "option -q takes no value"),
    (["--quiet=yes", "--", "true"], "takes no value"),
])
def test_parse_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        parse(argv, WRAP_OPTIONS, stop_at_positional=True)


def test_log_parses_step_anywhere():
    values, rest = parse(["a=1", "--step", "3", "b=2"], LOG_OPTIONS, stop_at_positional=False)
    assert values["step"] == 3 and rest == ["a=1", "b=2"]


@pytest.mark.parametrize("args", [["wrap", "--help"], ["-p", "x", "--help"], ["-q", "-h"]])
def test_wrap_help_lists_every_option(wbrun, args):
    result = wbrun(*args, check_code=0)
    assert result.stdout.startswith("Usage: wbrun [OPTIONS] -- COMMAND")
    assert "Example: wbrun" in result.stdout
    for opt in WRAP_OPTIONS:
        assert ", ".join(opt.flags) in result.stdout


def test_log_help(wbrun):
    result = wbrun("log", "--help", check_code=0)
    assert "Usage: wbrun log" in result.stdout and "Example:" in result.stdout and "--step" in result.stdout


def test_root_help_mentions_the_fast_commands(wbrun):
    result = wbrun("--help", check_code=0)
    assert "wbrun [OPTIONS] -- COMMAND" in result.stdout and "wbrun log KEY=VALUE" in result.stdout


def test_cli_usage_errors_exit_2_with_one_line(wbrun):
    for args in (["--bogus", "--", "true"], ["--id", "a/b", "--", "true"], ["--resume", "x", "--", "true"],
                 ["-c", "novalue", "--", "true"], ["--"]):
        result = wbrun(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("wbrun: error: ") and result.stderr.count("\n") == 1


def test_config_file_and_json_values(wbrun, runs_json, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"lr": 0.1, "layers": [1, 2]}))
    wbrun("-q", "--config-file", str(path), "-c", "lr=0.2", "-c", "opt=adam", "-c", "flag=true",
          "--", sys.executable, "-c", "pass", check_code=0)
    assert runs_json()[0]["config"] == {"lr": 0.2, "layers": [1, 2], "opt": "adam", "flag": True}


def test_bad_config_file(wbrun, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    result = wbrun("--config-file", str(path), "--", "true")
    assert result.returncode == 2 and "is not valid JSON" in result.stderr
