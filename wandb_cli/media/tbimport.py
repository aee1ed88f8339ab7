"""`wbrun import tensorboard LOGDIR`: TensorBoard event files written without wbrun become
runs, one per folder of event files.

Invariants: rows keep TensorBoard's wall times (`_timestamp`, `_runtime` from the first
event) and its step (`global_step`); a folder is imported once: its run ID is derived from
its absolute path, so importing the same LOGDIR again skips what is already there (delete
the run to import it anew); a folder whose files cannot be read fails alone, the others go on.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from wandb_cli.errors import UsageError, WbrunError


@dataclass
class Imported:
    folder: Path
    run_id: str
    name: str
    steps: int
    status: str  # "imported", "skipped" (already there), "failed: <why>"


def import_logdir(store, logdir: str | Path, *, project: str | None = None) -> list[Imported]:
    """Import every folder of event files under `logdir` into `store` (see module doc)."""
    from wandb_cli.media.tbevents import run_dirs

    root = Path(logdir)
    if not root.is_dir():
        raise UsageError(f"no such folder: {root}")
    folders = run_dirs(root)
    if not folders:
        raise UsageError(f"no TensorBoard event files (events.out.tfevents.*) under {root}")
    out = []
    for folder in folders:
        name = folder.relative_to(root).as_posix() if folder != root else root.resolve().name
        run_id = "tb-" + hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
        if store.read_claim(run_id) is not None:
            out.append(Imported(folder, run_id, name, 0, "skipped"))
            continue
        try:
            steps = _import_folder(store.root, folder, run_id, name, project, root)
        except (WbrunError, OSError, ValueError) as exc:
            out.append(Imported(folder, run_id, name, 0, f"failed: {exc}"))
            continue
        out.append(Imported(folder, run_id, name, steps, "imported"))
    return out


def _import_folder(store_root: Path, folder: Path, run_id: str, name: str,
                   project: str | None, logdir: Path) -> int:
    from wandb_cli.media.tbevents import read_logdir
    from wandb_cli.store import jsonio
    from wandb_cli.store.layout import HISTORY, Store
    from wandb_cli.store.model import FINISHED
    from wandb_cli.store.recorder import RunSpec, start_run

    rows = list(read_logdir(folder))
    times = [row["_tb_wall_time"] for row in rows if row.get("_tb_wall_time")]
    first = min(times) if times else folder.stat().st_mtime
    clock = _Clock(first)
    spec = RunSpec(project=project, name=name, id=run_id, group=None, job_type="tensorboard",
                   notes=f"imported from TensorBoard logs in {folder}",
                   command=["wbrun", "import", "tensorboard", os.fspath(logdir)])
    live = start_run(Store(store_root, clock=clock), spec, pid=os.getpid(), recorder="import")
    history = jsonio.AppendFile(live.paths.file(HISTORY))
    summary: dict = {}
    for step, row in enumerate(rows):
        wall = row.pop("_tb_wall_time", None) or first
        row.update(_step=step, _runtime=round(wall - first, 3), _timestamp=round(wall, 3))
        history.write_line(jsonio.dumps(row))
        summary.update({k: v for k, v in row.items() if not k.startswith("_")})
    history.close()
    for key, value in summary.items():
        live.set_summary(key, value)
    clock.now = max(times) if times else first
    live.finish(FINISHED, 0)
    return len(rows)


class _Clock:
    """The time the store records: the events' own wall times, not the import's."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

