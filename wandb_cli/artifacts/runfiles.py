"""Saving files into a run (`run.save()`, `wbrun save`) and listing a run's `files/` folder.

Invariants: a saved file lands only under the run's `files/` folder, at its path relative to
the base folder (the current directory unless `base_path` is given).  A path that would land
anywhere else is refused: an absolute path outside the base, a path that climbs out of it with
'..', a symlink whose target lies outside the base, a link inside `files/` that leads out of
it, and a top-level name that would replace one of wbrun's own documents (wbrun-run.json,
config.json, output.log, wandb-*.json, wandb-*.jsonl): those are refused, not renamed, so a
saved file is always where its name says.  Every copy goes to a temp file beside its
destination and is renamed into place, so a reader sees the old copy or the new, never half.

Policies: "now" copies at once; "live" copies at once, again whenever the file changes while
the run lives, and at the end; "end" copies when the run ends.  The caller does "now" itself;
"live" and "end" are appended to `<run>/save-requests.jsonl` and the process that owns the
run (the wrapper, or the SDK for a run it started) acts on them with a `Saver`, whose thread
polls size and mtime, and whose `stop()` makes the final copies before the run is marked ended.
"""
from __future__ import annotations

import glob
import os
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wandb_cli.artifacts.io import CHUNK_BYTES, write_file
from wandb_cli.errors import UsageError, WbrunError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import CONFIG, OUTPUT, RUN_DOC, RunPaths

POLICIES = ("now", "live", "end")
REQUESTS = "save-requests.jsonl"
LIVE_POLL_S = 0.5
_OWN_NAMES = frozenset({RUN_DOC, CONFIG, OUTPUT})
_GLOB_CHARS = frozenset("*?[")


def is_own_document(relative: str) -> bool:
    """Whether a path under files/ is one of wbrun's own documents (never a saved file)."""
    if "/" in relative:
        return False
    return relative in _OWN_NAMES or (
        relative.startswith("wandb-") and relative.endswith((".json", ".jsonl")))


@dataclass(frozen=True)
class SaveRequest:
    """One `save` call's pattern, made absolute against its base folder."""

    pattern: str
    base: str
    policy: str

    def to_json(self) -> dict:
        return {"pattern": self.pattern, "base": self.base, "policy": self.policy}


def make_request(pattern: str, *, policy: str, base_path: str | os.PathLike | None,
                 cwd: Path) -> SaveRequest:
    """Check a pattern against its base folder (lexically; links are checked per file)."""
    if policy not in POLICIES:
        raise UsageError(f"bad save policy {policy!r}: choose now, live or end")
    if not str(pattern) or "\0" in str(pattern):
        raise UsageError(f"bad path to save: {str(pattern)!r}")
    base = os.path.normpath(os.path.join(cwd, os.path.expanduser(base_path or ".")))
    full = os.path.normpath(os.path.join(base, os.path.expanduser(str(pattern))))
    if _climbs_out(os.path.relpath(full, base)):
        where = "the current directory" if base_path is None else f"the base path {base}"
        raise UsageError(f"cannot save {str(pattern)!r}: it lies outside {where}, so it would "
                         "land outside the run's files/ folder (pass base_path= / --base-path)")
    _refuse_own_document(Path(os.path.relpath(full, base)).as_posix())
    return SaveRequest(full, base, policy)


def _refuse_own_document(relative: str) -> None:
    if is_own_document(relative):
        raise UsageError(f"cannot save {relative!r}: files/{relative} is one of wbrun's own "
                         "documents; save it from a subfolder or under another name")


def _climbs_out(relative: str) -> bool:
    return relative == ".." or relative.startswith(".." + os.sep) or os.path.isabs(relative)


def expand(request: SaveRequest, run_dir: Path) -> list[tuple[str, Path]]:
    """(path under files/, source file) for each file the request names now, checked."""
    real_base = os.path.realpath(request.base)
    excluded = _excluded_folder(run_dir, real_base)
    literal = os.path.lexists(request.pattern) or not _GLOB_CHARS & set(request.pattern)
    if literal:
        named = [request.pattern] if os.path.lexists(request.pattern) else []
    else:
        named = sorted(glob.glob(request.pattern, recursive=True))
    if literal and named and _inside(os.path.realpath(request.pattern), excluded):
        raise UsageError(f"cannot save {request.pattern!r}: it is inside the wbrun store")
    found = []
    for match in named:
        for source in _files_under(match, excluded):
            if not _inside(os.path.realpath(source), excluded):  # a wide glob skips the store
                found.append((_destination_name(source, request.base, real_base), Path(source)))
    return found


def _excluded_folder(run_dir: Path, real_base: str) -> str:
    """The store root when it sits inside the base (never copy the store into itself),
    else the run's own folder."""
    store_root = os.path.realpath(run_dir.parent)
    inside = store_root != real_base and _inside(store_root, real_base)
    return store_root if inside else os.path.realpath(run_dir)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _files_under(path: str, excluded: str) -> Iterator[str]:
    if os.path.isdir(path):
        for folder, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames
                                 if os.path.realpath(os.path.join(folder, d)) != excluded)
            yield from (os.path.join(folder, f) for f in sorted(filenames))
    elif os.path.lexists(path):
        yield path


def _destination_name(source: str, base: str, real_base: str) -> str:
    real = os.path.realpath(source)
    if not _inside(real, real_base):
        raise UsageError(f"cannot save {source!r}: it is a link to {real!r}, outside "
                         f"{base}, so it would not keep its place in the run's files/ folder")
    if not _is_regular_file(real):
        raise UsageError(f"cannot save {source!r}: not a regular file")
    relative = Path(os.path.relpath(source, base)).as_posix()
    _refuse_own_document(relative)
    return relative


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def copy_into_run(files_dir: Path, relative: str, source: Path) -> None:
    """Copy `source` to files/<relative> atomically, never through a link out of files/."""
    final = files_dir.joinpath(*relative.split("/"))
    jsonio.make_dirs(final.parent)
    if not _inside(os.path.realpath(final.parent), os.path.realpath(files_dir)):
        raise UsageError(f"cannot save {relative!r}: a link inside the run's files/ folder "
                         "would take it outside the run")
    with open(source, "rb") as src:
        write_file(final, lambda out: shutil.copyfileobj(src, out, CHUNK_BYTES), durable=False)


@dataclass(frozen=True)
class Saved:
    pattern: str  # as the user gave it
    policy: str
    files: list[str]  # paths under files/ that the pattern names now


def save(run_dir: Path, patterns: list[str], *, policy: str = "live",
         base_path: str | os.PathLike | None = None, cwd: Path) -> list[Saved]:
    """Save files into a run: copy now ("now", "live") and record what must follow.

    Every pattern is checked before anything is copied, so a refusal leaves no partial save.
    """
    run_dir = Path(run_dir)
    requests = [make_request(p, policy=policy, base_path=base_path, cwd=cwd) for p in patterns]
    matches = [expand(request, run_dir) for request in requests]
    for pattern, found in zip(patterns, matches):
        if policy == "now" and not found:
            raise UsageError(f"nothing to save: no file matches {str(pattern)!r}")
    paths = RunPaths(run_dir)
    for request, found in zip(requests, matches):
        if policy != "end":
            for relative, source in found:
                _copy_or_raise(paths.files, relative, source)
        if policy != "now":
            _record(run_dir, request)
    return [Saved(str(p), policy, [r for r, _ in found]) for p, found in zip(patterns, matches)]


def _record(run_dir: Path, request: SaveRequest) -> None:
    try:
        requests = jsonio.AppendFile(run_dir / REQUESTS)
    except OSError as exc:
        raise WbrunError(f"cannot record the save request in {run_dir}: {exc.strerror}") from None
    try:
        requests.write_line(jsonio.dumps(request.to_json()))
    finally:
        requests.close()


def _copy_or_raise(files_dir: Path, relative: str, source: Path) -> None:
    try:
        copy_into_run(files_dir, relative, source)
    except OSError as exc:
        raise WbrunError(f"cannot save {relative!r}: {exc.strerror or exc}") from None


class Saver:
    """The run owner's side of "live" and "end": a thread that polls, and a final copy."""

    def __init__(self, run_dir: Path, *, poll_s: float = LIVE_POLL_S,
                 warn: Callable[[str], None] | None = None):
        self.run_dir = Path(run_dir)
        self.poll_s = poll_s
        self._warn = warn or (lambda message: print(f"wbrun: warning: {message}", file=sys.stderr))
        self._warned: set[str] = set()
        self._requests: list[SaveRequest] = []
        self._offset = _size(self.run_dir / REQUESTS)  # a resumed run's old requests are done
        self._copied: dict[Path, tuple] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wbrun-saver", daemon=True)

    def start(self) -> Saver:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._halt.wait(self.poll_s):
            self.poll()

    def poll(self) -> None:
        """Copy each "live" file that changed since its last copy."""
        with self._lock:
            self._read_requests()
            for request in self._requests:
                if request.policy == "live":
                    self._sync(request, force=False)

    def stop(self) -> None:
        """Stop polling and make the final copies ("end" always, "live" if changed)."""
        self._halt.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        with self._lock:
            self._read_requests()
            for request in self._requests:
                self._sync(request, force=request.policy == "end")

    def _read_requests(self) -> None:
        try:
            with open(self.run_dir / REQUESTS, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                self._requests.append(SaveRequest(**jsonio.loads(line)))
            except (ValueError, TypeError):
                self._warn_once(f"{REQUESTS}: skipped an unreadable request")

    def _sync(self, request: SaveRequest, *, force: bool) -> None:
        try:
            for relative, source in expand(request, self.run_dir):
                before = _signature(source)
                if before is None or (not force and self._copied.get(source) == before):
                    continue
                copy_into_run(RunPaths(self.run_dir).files, relative, source)
                if _signature(source) == before:  # else it changed mid-copy: copy it again
                    self._copied[source] = before
        except (WbrunError, OSError) as exc:
            self._warn_once(f"save {request.pattern}: {exc}")

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warn(message)


def _signature(path: Path) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def start_saver(run_dir: Path) -> Saver:
    return Saver(run_dir).start()


@dataclass(frozen=True)
class RunFile:
    path: str  # relative to files/, '/'-separated
    size: int
    modified: float  # POSIX seconds
    own: bool  # one of wbrun's own documents

    @property
    def kind(self) -> str:
        return "wbrun" if self.own else "saved"

    def to_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "modified": self.modified, "kind": self.kind}


def list_run_files(run_dir: Path) -> list[RunFile]:
    """Everything under a run's files/, by path; unfinished copies (temp files) left out."""
    files_dir = RunPaths(Path(run_dir)).files
    found = []
    for folder, dirnames, filenames in os.walk(files_dir):
        dirnames.sort()
        for name in filenames:
            if name.startswith(".") and ".tmp-" in name:
                continue
            full = os.path.join(folder, name)
            try:
                info = os.stat(full)
            except OSError:
                continue  # replaced or removed while we looked
            relative = Path(os.path.relpath(full, files_dir)).as_posix()
            found.append(RunFile(relative, info.st_size, info.st_mtime, is_own_document(relative)))
    return sorted(found, key=lambda f: (not f.own, f.path))


def run_lineage(store_root: Path, run_id: str) -> dict[str, list]:
    """For `runs show`: the artifact versions a run used (inputs) and made (outputs), and
    (only where there are any) the manifests that could not be read (`unreadable`)."""
    from wandb_cli.artifacts.store import runs_artifacts

    unreadable: list[str] = []
    inputs, outputs = runs_artifacts(Path(store_root), run_id, unreadable)
    lineage: dict[str, list] = {role: [{"ref": m.ref, "type": m.type, "size": m.size} for m in manifests]
                                for role, manifests in (("inputs", inputs), ("outputs", outputs))}
    if unreadable:
        lineage["unreadable"] = unreadable
    return lineage
