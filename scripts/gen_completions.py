"""Regenerate completions/ (bash, zsh, fish) from wbrun's command tree; --check only reports.

Run it after adding or renaming a command or option: tests/test_completion.py fails until the
committed scripts match.  The work is done by wandb_cli/completion_gen.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wandb_cli.cli.completion.gen import main

if __name__ == "__main__":
    sys.exit(main())
