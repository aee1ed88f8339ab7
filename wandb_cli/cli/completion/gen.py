"""Writes the shell completion scripts in completions/ (bash, zsh, fish) from the CLI.

    python scripts/gen_completions.py            # rewrite completions/
    python scripts/gen_completions.py --check    # exit 1 if a script is out of date

Invariant: a script is a pure function of the command tree (wandb_cli/cli/completion_spec.py)
and of the templates (wandb_cli/completion_shells.py, completion_fish.py), so the same CLI
always gives the same bytes and tests/test_completion.py can compare the committed scripts
with fresh ones.  The
scripts embed commands, options and fixed choices; store values (run IDs and names, keys,
projects) they ask of `wbrun __complete SHELL KIND PREFIX [DIR]` (wandb_cli/completion.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SCRIPT_NAMES = {"bash": "wbrun.bash", "zsh": "_wbrun", "fish": "wbrun.fish"}
REGENERATE = "python scripts/gen_completions.py"


def render_all(commands=None) -> dict[str, str]:
    """{file name: script text} for every shell."""
    from wandb_cli.cli.completion import fish as completion_fish
    from wandb_cli.cli.completion import shells as completion_shells

    if commands is None:
        from wandb_cli.cli.completion.spec import commands as read_commands

        commands = read_commands()
    renderers = {"bash": completion_shells.bash, "zsh": completion_shells.zsh,
                 "fish": completion_fish.fish}
    return {SCRIPT_NAMES[shell]: render(commands) for shell, render in renderers.items()}


def stale_scripts(folder: Path, scripts: dict[str, str]) -> list[str]:
    """The names of the scripts in `folder` that differ from `scripts` (or are missing)."""
    stale = []
    for name, text in scripts.items():
        try:
            current = (folder / name).read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate wbrun's shell completion scripts.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3]
                        / "completions", help="folder to write (default: the repo's completions/)")
    parser.add_argument("--check", action="store_true", help="only report stale scripts")
    args = parser.parse_args(argv)
    scripts = render_all()
    stale = stale_scripts(args.out, scripts)
    if args.check:
        for name in stale:
            print(f"{args.out / name} is out of date: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(scripts[name], encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
