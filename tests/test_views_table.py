"""The runs table is written line by line (views.render.fitted_lines), not through Rich: its
plain text must be exactly what a Rich table of the same fitted cells prints, for any
names (wide, combining, markup-looking, escapes), widths and crop modes; colours only on a
terminal."""
from __future__ import annotations

import io
import os
import random
import sys

from helpers import PtyProcess, make_record

from wandb_cli.views import columns as runs_table
from wandb_cli.views import render

NAMES = ["alpha", "日本語のラン名前", "a" * 90, "x\u0301y", "[bold]mark[/bold]", "tab\there", "e\x1b[31mscape", ""]


def _rich_reference(fitted) -> str:
    """What Rich printed for the fitted table before the table was written by hand."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column, header, width in zip(fitted.columns, fitted.headers, fitted.widths):
        grid.add_column(render.text(header), width=width, no_wrap=True, overflow="crop",
                        justify="right" if column.align == "right" else "left")
    for row in fitted.rows():
        grid.add_row(*(render.text(cell) for cell in row))
    buf = io.StringIO()
    Console(file=buf, highlight=False, markup=False, emoji=False, soft_wrap=False,
            width=max(fitted.total_width, fitted.width or 0, 1)).print(grid)
    return buf.getvalue()


def test_the_hand_written_table_is_rich_s_table_to_the_byte():
    rng = random.Random(7)
    for _ in range(300):
        records = [make_record(f"id{i}", name=rng.choice(NAMES), project="p",
                               state=rng.choice(["finished", "running", "crashed"]),
                               summary={"loss": rng.random(), "note": rng.choice(NAMES)},
                               tags=rng.sample(NAMES, 2))
                   for i in range(rng.randint(1, 6))]
        fitted = runs_table.fit(runs_table.run_columns(records, columns=None, sort=()),
                                rng.choice([None, 20, 40, 80, 200]),
                                crop_mode=rng.choice(["start", "middle", "end"]))
        assert "".join(line + "\n" for line in render.fitted_lines(fitted)) == _rich_reference(fitted)


def test_colours_on_a_terminal_only(store_dir):
    from helpers import record_run

    record_run(store_dir, name="[red]x", state="finished")
    env = {**os.environ, "WBRUN_DIR": str(store_dir), "COLUMNS": "120"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):  # (Rich reads all three)
        env.pop(name, None)
    child = PtyProcess([sys.executable, "-m", "wandb_cli", "runs", "ls"], env=env)
    assert child.wait() == 0
    shown = child.output.decode()
    assert "\x1b[32mfinished" in shown and "\x1b[1m" in shown  # state colour, bold header
    assert "[red]x" in shown
    import subprocess

    piped = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "\x1b" not in piped and "finished" in piped
    no_color = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls"], env={**env, "NO_COLOR": "1"},
                              capture_output=True, text=True, check=True).stdout
    assert "\x1b" not in no_color
    forced = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls"], env={**env, "FORCE_COLOR": "1"},
                            capture_output=True, text=True, check=True).stdout
    assert "\x1b[32mfinished" in forced  # (Rich's judgement: FORCE_COLOR colours a pipe)
    child = PtyProcess([sys.executable, "-m", "wandb_cli", "runs", "ls"], env={**env, "NO_COLOR": "1"})
    assert child.wait() == 0
    assert "\x1b" not in child.output.decode() and "finished" in child.output.decode()


def test_a_table_into_a_pipe_imports_no_rich(store_dir):
    """Colours can only be off there: Rich is not imported to say so (a plain table and a
    grouped one)."""
    import subprocess

    from helpers import record_run

    record_run(store_dir, name="a", state="finished")
    probe = ("import sys\nfrom wandb_cli.cli import main\n"
             "try:\n    main(['runs', 'ls'])\nexcept SystemExit:\n    pass\n"
             "print('rich' in sys.modules, file=sys.stderr)\n")
    plain = {k: v for k, v in os.environ.items()
             if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE")}
    for extra, args in (({}, "'runs', 'ls'"), ({"NO_COLOR": "1"}, "'runs', 'ls'"),
                        ({}, "'runs', 'ls', '--group-by', 'state'")):
        env = {**plain, "WBRUN_DIR": str(store_dir), "COLUMNS": "120", **extra}
        done = subprocess.run([sys.executable, "-c", probe.replace("'runs', 'ls'", args)],
                              env=env, capture_output=True, text=True, check=True)
        assert "finished" in done.stdout
        assert done.stderr.strip().splitlines()[-1] == "False", done.stderr


def test_colour_judgement_of_a_stream_without_isatty(monkeypatch):
    """A stdout with no isatty (an embedder's bare writer) is no terminal, as Rich has it."""
    class Bare:
        def write(self, text):
            return len(text)

        def flush(self):
            pass

    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdout", Bare())
    assert render._wants_color() is False
