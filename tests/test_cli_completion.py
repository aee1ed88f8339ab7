"""Shell completion: the committed scripts match the CLI, and they offer the store's values.

The scripts in completions/ are compared with freshly generated ones; bash (always), fish
and zsh (where installed) source the real scripts and complete real command lines against
a real store, through the real `wbrun __complete` (a `wbrun` on PATH that runs this
checkout).  The store-aware values are also checked directly, on a 10,000-run store.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wbrun_cmd
from helpers import record_run

from wandb_cli.cli.completion.gen import REGENERATE, SCRIPT_NAMES, render_all, stale_scripts
from wandb_cli.store.layout import Store

REPO = Path(__file__).resolve().parent.parent
COMPLETIONS = REPO / "completions"


# -- the scripts are generated from the CLI -------------------------------------------------
def test_committed_scripts_match_the_cli():
    stale = stale_scripts(COMPLETIONS, render_all())
    assert not stale, f"completions/{', '.join(stale)} out of date: run `{REGENERATE}`"


def test_a_changed_option_changes_every_script():
    from wandb_cli.cli.completion.spec import Option, commands

    specs = commands()
    ls = next(i for i, c in enumerate(specs) if c.name == "runs ls")
    changed = list(specs)
    changed[ls] = dataclasses.replace(
        specs[ls], options=(*specs[ls].options, Option(("--brand-new",), "A new option.", "text")))
    before, after = render_all(specs), render_all(changed)
    assert all(before[name] != after[name] for name in SCRIPT_NAMES.values())


def test_the_generator_writes_and_checks(tmp_path):
    out = tmp_path / "out"
    script = [sys.executable, str(REPO / "scripts" / "gen_completions.py"), "--out", str(out)]
    stale = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and REGENERATE in stale.stderr
    subprocess.run(script, check=True, capture_output=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(SCRIPT_NAMES.values())
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0


# -- a store to complete from ----------------------------------------------------------------
def make_run(root: Path, run_id: str, name: str, *, project="mnist", config=None, metrics=None):
    record_run(root, id=run_id, name=name, project=project, config=config or {},
               metrics=[metrics or {"loss": 0.5}])


@pytest.fixture
def store(store_dir) -> Path:
    """Three live runs (one name with a space) and one in the trash."""
    from wandb_cli.store import lifecycle

    make_run(store_dir, "abc11111", "alpha-run", config={"lr": 0.1, "epochs": 3,
                                                         "optimizer": {"name": "adam"}},
             metrics={"loss": 0.5, "acc": 0.9, "epochs": 3})
    make_run(store_dir, "abd22222", "beta-run", project="cifar", config={"lr": 0.2})
    make_run(store_dir, "xyz33333", "gamma run")
    make_run(store_dir, "del44444", "old-run")
    opened = Store(store_dir)
    lifecycle.delete_run(opened, opened.find("del44444"))
    return store_dir


def complete(shell: str, kind: str, prefix: str = "", *extra: str, env=None) -> list[str]:
    result = subprocess.run(wbrun_cmd("__complete", shell, kind, prefix, *extra),
                            capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert result.returncode == 0 and result.stderr == ""
    return result.stdout.splitlines()


LIVE = ["abc11111", "abd22222", "xyz33333", "alpha-run", "beta-run", "gamma run", "latest"]


def test_runs_complete_to_live_ids_and_names(store):
    assert sorted(complete("plain", "runs")) == sorted(LIVE)
    assert complete("plain", "runs", "ab") == ["abc11111", "abd22222"]
    assert complete("plain", "runs", "gam") == ["gamma run"]


def test_deleted_runs_complete_only_where_deleted_runs_are_meant(store):
    assert "del44444" not in complete("plain", "runs")
    assert sorted(complete("plain", "trash")) == ["del44444", "old-run"]


def test_each_shell_gets_its_own_reply_format(store):
    assert complete("bash", "runs", "gam") == ["'gamma run'"]  # bash inserts replies as typed
    assert "abc11111\talpha-run" in complete("fish", "runs", "abc")
    assert complete("zsh", "runs", "gam") == ["gamma run"]


def test_keys_are_attributes_config_and_summary_keys(store):
    keys = complete("plain", "keys")
    assert {"id", "name", "state", "created", "runtime"} <= set(keys)
    assert {"lr", "config.lr", "optimizer.name", "config.optimizer.name", "loss",
            "summary.loss", "acc", "summary.acc", "config.epochs", "summary.epochs"} <= set(keys)
    assert "epochs" not in keys  # in both config and summary: a bare key would be refused
    assert complete("plain", "keys", "config.o") == ["config.optimizer.name"]


def test_sort_keys_take_a_minus_for_descending(store):
    assert set(complete("plain", "sort", "l")) == {"lr", "loss"}
    assert set(complete("plain", "sort", "-l")) == {"-lr", "-loss"}


def test_columns_complete_the_part_after_the_last_comma(store):
    assert complete("plain", "columns", "id,na") == ["id,name"]
    after_comma = complete("plain", "columns", "id,lr,")
    assert "id,lr,loss" in after_comma and all(v.startswith("id,lr,") for v in after_comma)
    assert "id,lr,id" not in after_comma and "id,lr,lr" not in after_comma


def test_projects(store):
    assert complete("plain", "projects") == ["cifar", "mnist"]


def test_the_dir_on_the_command_line_wins(store, tmp_path):
    other = tmp_path / "other"
    make_run(other, "oth55555", "other-run")
    assert complete("plain", "runs", "o", str(other)) == ["oth55555", "other-run"]
    assert complete("plain", "runs", "o", "'" + str(other) + "'") == ["oth55555", "other-run"]
    assert complete("plain", "runs", "o") == []  # WBRUN_DIR's store


def test_no_store_or_a_bad_request_gives_nothing_quietly(tmp_path):
    assert complete("plain", "runs", "", str(tmp_path / "missing")) == []
    assert complete("plain", "keys", "", str(tmp_path / "missing"))[:1] == ["id"]
    assert complete("plain", "nonsense") == [] and complete("tcsh", "runs") == []


def test_a_name_that_would_drive_the_terminal_is_never_offered(store_dir):
    make_run(store_dir, "esc66666", "bad\x1b[31mname")
    make_run(store_dir, "nl777777", "two\nlines")
    offered = complete("plain", "runs")
    assert "esc66666" in offered and "nl777777" in offered
    assert not any("\x1b" in value or "two" in value for value in offered)


def test_completing_loads_neither_typer_nor_rich(store):
    probe = ("import sys\nfrom wandb_cli.cli import main\ntry:\n    main(['__complete', 'plain', "
             "'runs', ''])\nexcept SystemExit:\n    pass\nheavy = {'typer', 'rich', 'click'} & "
             "{m.split('.')[0] for m in sys.modules}\nsys.stderr.write(repr(sorted(heavy)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stderr == "[]" and "alpha-run" in result.stdout


# -- a 10,000-run store ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """10,000 runs, their claims and index; no documents (only the index knows the names)."""
    spec = importlib.util.spec_from_file_location("completion_bench",
                                                  REPO / "benchmarks" / "completion_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    root = tmp_path_factory.mktemp("big") / "wandb"
    return root, bench.build_store(root, 10_000, documents=False)


@pytest.mark.slow
def test_ten_thousand_runs_complete_exactly_with_or_without_the_index(big_store):
    root, runs = big_store
    prefix = runs[0][0][:2]
    expected = sorted({i for i, _ in runs if i.startswith(prefix)}
                      | {n for _, n in runs if n.startswith(prefix)})
    assert sorted(complete("plain", "runs", prefix, str(root))) == expected
    assert complete("plain", "columns", "id,val", str(root)) == ["id,val/loss"]
    index = root / ".wbrun" / "index.jsonl"
    index.rename(index.with_suffix(".away"))
    try:  # every ID still, from the folder names (the documents are missing here)
        assert set(complete("plain", "runs", "", str(root))) == {i for i, _ in runs}
    finally:
        index.with_suffix(".away").rename(index)


# -- the real shells ---------------------------------------------------------------------------
@pytest.fixture
def shell_env(store, tmp_path) -> dict:
    """PATH leads to a `wbrun` that runs this checkout; the store is WBRUN_DIR's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "wbrun"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m wandb_cli "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


BASH_DRIVER = """
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_wbrun
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(env: dict, *words: str) -> list[str]:
    """COMPREPLY for the command line `words` (the last one being completed)."""
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash",
                             str(COMPLETIONS / "wbrun.bash"), *words],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.parametrize("words, expected", [
    (("wbrun", "runs", "sh"), ["show"]),
    (("wbrun", "runs", "show", "a"), ["abc11111", "abd22222", "alpha-run"]),
    (("wbrun", "runs", "show", "g"), ["'gamma run'"]),
    (("wbrun", "runs", "restore", ""), ["del44444", "old-run"]),
    (("wbrun", "runs", "tag", "x"), ["xyz33333"]),
    (("wbrun", "runs", "tag", "xyz33333", "x"), []),  # then tags: nothing to offer
    (("wbrun", "runs", "ls", "--sort", "-l"), ["-loss", "-lr"]),
    (("wbrun", "runs", "ls", "--sort", "=", "-l"), ["-loss", "-lr"]),  # `--sort=-l`
    (("wbrun", "runs", "ls", "--format", "js"), ["json", "jsonl"]),
    (("wbrun", "runs", "ls", "--columns", "id,na"), ["id,name"]),
    (("wbrun", "runs", "ls", "-p", ""), ["cifar", "mnist"]),
    (("wbrun", "--resume", ""), ["never", "allow", "must"]),
    (("wbrun", "-p", "mnist", ""), ["--"]),
    (("wbrun", "--res"), ["--resume"]),
])
def test_bash_completes_commands_options_and_store_values(shell_env, words, expected):
    assert sorted(bash_complete(shell_env, *words)) == sorted(expected)


def test_bash_offers_every_runs_subcommand_and_follows_dir(shell_env, tmp_path):
    from wandb_cli.cli.completion.spec import commands

    runs = next(c for c in commands() if c.name == "runs")
    assert bash_complete(shell_env, "wbrun", "runs", "") == [name for name, _ in runs.subcommands]
    other = tmp_path / "elsewhere"
    make_run(other, "far99999", "far-run")
    assert bash_complete(shell_env, "wbrun", "runs", "show", "--dir", str(other), "f") \
        == ["far99999", "far-run"]


def test_bash_hands_the_line_after_dashdash_to_the_wrapped_command(shell_env, tmp_path):
    assert "bash" in bash_complete(shell_env, "wbrun", "-p", "x", "--", "bas")
    (tmp_path / "train_script.py").write_text("")
    line = ("wbrun", "--", "python", str(tmp_path / "train_s"))
    assert bash_complete(shell_env, *line) == [str(tmp_path / "train_script.py")]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_from_the_store(shell_env):
    def fish(line: str) -> list[str]:
        result = subprocess.run(["fish", "--no-config", "-c",
                                 'source $WBRUN_SCRIPT; complete -C "$WBRUN_LINE"'],
                                capture_output=True, text=True, timeout=60,
                                env={**shell_env, "WBRUN_SCRIPT": str(COMPLETIONS / "wbrun.fish"),
                                     "WBRUN_LINE": line})
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return [entry.split("\t")[0] for entry in result.stdout.splitlines()]

    assert "ls" in fish("wbrun runs ") and "show" in fish("wbrun runs ")
    assert fish("wbrun runs show a") == ["abc11111", "abd22222", "alpha-run"]
    assert fish("wbrun runs ls --sort -l") == ["-loss", "-lr"]
    assert fish("wbrun runs ls --format js") == ["json", "jsonl"]
    assert fish("wbrun -p x ") == ["--"]


ZSH_DRIVER = r"""
compadd() { local arg seen=; for arg in "$@"; do
    if [[ -n $seen ]]; then print -r -- "$arg"; elif [[ $arg == -- ]]; then seen=1; fi; done; }
_describe() { [[ $1 == -o ]] && shift; local item; for item in ${(P)2}; do
    print -r -- "${item%%:*}"; done; }
compset() { PREFIX=${PREFIX#--*=}; }
source "$1"; shift
words=("$@"); CURRENT=$#; PREFIX=${words[-1]}
_wbrun
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_from_the_store(shell_env):
    """zsh's completion builtins need a live line editor, so compadd and _describe are stood
    in for by functions that print what they are given; the rest is the real script."""
    def zsh(*words: str) -> list[str]:
        result = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", str(COMPLETIONS / "_wbrun"),
                                 *words], capture_output=True, text=True, env=shell_env, timeout=60)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return result.stdout.splitlines()

    assert "show" in zsh("wbrun", "runs", "")
    assert zsh("wbrun", "runs", "show", "g") == ["gamma run"]
    assert set(zsh("wbrun", "runs", "ls", "--sort=-l")) == {"-loss", "-lr"}
    assert zsh("wbrun", "runs", "ls", "--format", "") == ["table", "json", "jsonl", "csv", "ids"]
    assert zsh("wbrun", "-p", "x", "") == ["--"]
