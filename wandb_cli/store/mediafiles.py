"""A run's media files (`files/media/<kind>/<key>_<step>_<id>.<ext>`, written by
wandb_cli.media), read from the folder (never from the history: listing stays cheap on a run
of millions of steps), and copying them out.

Invariants: only regular files under the run's `files/media/` are listed or copied (a
symlink planted there is skipped); a copy never writes outside the chosen output folder.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

MEDIA_DIR = "media"
_DOUBLE_EXTS = (".table.json", ".pts.json")
KINDS = {"images": "image", "table": "table", "audio": "audio", "videos": "video",
         "html": "html", "object3D": "object3D"}


def split_name(rel_in_kind: str) -> tuple[str, str | None]:
    """(key, step) from `<key>_<step>_<id>.<ext>`; the step is None for other names."""
    stem = rel_in_kind
    for ext in _DOUBLE_EXTS:
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    else:
        stem = os.path.splitext(stem)[0]
    parts = stem.rsplit("_", 2)
    if len(parts) == 3 and parts[0]:
        return parts[0], parts[1]
    return stem, None


def list_media(files_dir: str | Path) -> list[dict]:
    """One entry per media file: kind, key, step, path (relative to files/) and size."""
    root = Path(files_dir) / MEDIA_DIR
    out = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            full = Path(folder) / name
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(root).as_posix()
            subdir, _, inside = rel.partition("/")
            if not inside:
                continue
            key, step = split_name(inside)
            out.append({"kind": KINDS.get(subdir, subdir), "key": key,
                        "step": int(step) if step is not None and step.isdigit() else step,
                        "path": f"{MEDIA_DIR}/{rel}", "size": full.stat().st_size})
    out.sort(key=lambda item: (item["step"] if isinstance(item["step"], int) else -1,
                               item["key"], item["path"]))
    return out


def copy_media(files_dir: str | Path, items: list[dict], output: str | Path) -> list[Path]:
    """Copy the listed files into `output`, keeping their path below files/media/."""
    out_root = Path(output).resolve()
    copied = []
    for item in items:
        source = Path(files_dir) / item["path"]
        target = (out_root / item["path"][len(MEDIA_DIR) + 1:]).resolve()
        if not target.is_relative_to(out_root):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(target)
    return copied

