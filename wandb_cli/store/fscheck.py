"""`wbrun doctor`: does the store's filesystem give wbrun what it relies on?

wbrun relies on (docs/store-format.md, "Shared filesystems"): flock(2) excluding other
processes (on every node that writes the same run), rename replacing a file atomically,
O_EXCL creates for ID claims, and readers seeing other nodes' writes soon enough for the
heartbeat rule (WBRUN_HEARTBEAT_TIMEOUT, 60 s).  NFS mounted with `local_lock=flock|all` or
`nolock` keeps flock on one node; NFS attribute caches delay what other nodes see by up to
`acregmax`/`acdirmax` (60 s by default); Lustre gives flock only with `-o flock`
(`localflock` is node-local, neither makes flock fail).

Invariant: the checks touch only files of their own under `<root>/.wbrun/doctor-*`, removed
afterwards, and never a run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NETWORK_TYPES = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph",
                 "fuse.sshfs", "fuse.glusterfs", "glusterfs", "9p", "fuse.juicefs", "afs"}
DEFAULT_NFS_CACHE_S = 60


@dataclass(frozen=True)
class Finding:
    level: str  # ok, info, warn, fail
    text: str


@dataclass(frozen=True)
class Mount:
    device: str
    point: str
    fstype: str
    options: tuple[str, ...]

    def option(self, name: str) -> str | None:
        for opt in self.options:
            key, _, value = opt.partition("=")
            if key == name:
                return value
        return None

    def has(self, name: str) -> bool:
        return any(opt.partition("=")[0] == name for opt in self.options)


def _unescape(field: str) -> str:
    # /proc/mounts writes spaces, tabs and newlines in paths as octal escapes
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2],
                                tuple(fields[3].split(","))))
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding `path`: the longest mount point that is a prefix of it (the last
    one mounted wins when several share a point)."""
    text = str(path)
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        if text == point or text.startswith(point + "/") or point == "/":
            if best is None or len(point) >= len(best.point.rstrip("/") or "/"):
                best = mount
    return best


def judge_mount(mount: Mount) -> list[Finding]:
    """What a mount's type and options mean for wbrun."""
    kind = mount.fstype
    where = f"{mount.point} ({kind} from {mount.device})"
    if kind.startswith("nfs"):
        return _judge_nfs(mount, where)
    if kind == "lustre":
        if mount.has("flock"):
            return [Finding("ok", f"{where}: Lustre mounted with flock: locks hold across nodes")]
        if mount.has("localflock"):
            return [Finding("warn", f"{where}: Lustre with localflock: locks hold on this node only; "
                                    "never write one run from two nodes")]
        return [Finding("fail", f"{where}: Lustre without -o flock: flock() fails there; "
                                "remount with -o flock or keep the store on a local disk")]
    if kind in NETWORK_TYPES:
        return [Finding("info", f"{where}: a network filesystem; the lock test below says whether "
                                "flock works, but not whether it holds across nodes")]
    return [Finding("ok", f"{where}: a local filesystem")]


def _judge_nfs(mount: Mount, where: str) -> list[Finding]:
    found = []
    local_lock = mount.option("local_lock")
    if mount.has("nolock") or local_lock in ("flock", "all"):
        why = "nolock" if mount.has("nolock") else f"local_lock={local_lock}"
        found.append(Finding("warn", f"{where}: NFS with {why}: flock holds on this node only; "
                                     "never write one run from two nodes"))
    else:
        found.append(Finding("ok", f"{where}: NFS, flock goes to the server (local_lock="
                                   f"{local_lock or 'none'}): locks hold across nodes"))
    if mount.has("noac") or mount.option("actimeo") == "0":
        found.append(Finding("ok", f"{where}: attribute caching off (noac): other nodes see writes at once"))
        return found
    cache = _nfs_cache_seconds(mount)
    level = "warn" if cache >= 60 else "info"
    found.append(Finding(level, f"{where}: attribute caches may hide other nodes' writes for up to "
                                f"{cache} s: keep WBRUN_HEARTBEAT_TIMEOUT above {cache} (it is "
                                f"{os.environ.get('WBRUN_HEARTBEAT_TIMEOUT', '60')}) or mount with "
                                "actimeo=5 or lower"))
    return found


def _nfs_cache_seconds(mount: Mount) -> int:
    values = []
    for name in ("actimeo", "acregmax", "acdirmax"):
        value = mount.option(name)
        if value is not None and value.isdigit():
            values.append(int(value))
    return max(values) if values else DEFAULT_NFS_CACHE_S


_LOCK_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(10)
except OSError as exc:
    print(exc.strerror, file=sys.stderr); sys.exit(20)
sys.exit(0)
"""


def check_locks(folder: Path) -> list[Finding]:
    """flock in this process, then a second process that must be refused while it is held
    and must get it once it is released."""
    import fcntl

    path = folder / f"doctor-lock-{os.getpid()}"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        return [Finding("fail", f"cannot create a lock file in {folder}: {exc.strerror}")]
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            return [Finding("fail", f"flock() fails in {folder}: {exc.strerror}; wbrun cannot lock runs here")]
        held = _probe(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        free = _probe(path)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    if held == 10 and free == 0:
        return [Finding("ok", "flock excludes another process and is released with its holder")]
    if held == 0:
        return [Finding("fail", "flock does not exclude another process here: concurrent writers "
                                "would lose updates; keep the store on a local disk")]
    return [Finding("fail", f"flock misbehaves here (probe exits {held}, {free})")]


def _probe(path: Path) -> int:
    try:
        return subprocess.run([sys.executable, "-c", _LOCK_PROBE, str(path)], timeout=30,
                              capture_output=True).returncode
    except (OSError, subprocess.SubprocessError):
        return -1


def check_files(folder: Path) -> list[Finding]:
    """O_EXCL creates and atomic renames, as ID claims and documents use them."""
    stem = folder / f"doctor-{os.getpid()}"
    try:
        fd = os.open(f"{stem}.claim", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        try:
            os.open(f"{stem}.claim", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            return [Finding("fail", "O_EXCL does not refuse an existing file: run IDs could be claimed twice")]
        except FileExistsError:
            pass
        Path(f"{stem}.tmp").write_text("new")
        os.replace(f"{stem}.tmp", f"{stem}.claim")
        if Path(f"{stem}.claim").read_text() != "new":
            return [Finding("fail", "rename does not replace a file: documents could be torn")]
    except OSError as exc:
        return [Finding("fail", f"cannot create files in {folder}: {exc.strerror}")]
    finally:
        for suffix in (".claim", ".tmp"):
            Path(f"{stem}{suffix}").unlink(missing_ok=True)
    return [Finding("ok", "exclusive creates and atomic renames work (ID claims, documents)")]


def check_store(root: Path, mounts_text: str | None = None) -> list[Finding]:
    """Every check, for the store at `root` (the nearest existing folder above it if the
    store is not made yet)."""
    root = Path(root).resolve()
    findings = [Finding("info", f"store: {root}")]
    folder = root / ".wbrun" if (root / ".wbrun").is_dir() else root
    while not folder.is_dir():
        folder = folder.parent
    if folder != root and folder != root / ".wbrun":
        findings.append(Finding("info", f"the store does not exist yet: testing {folder}"))
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            mounts_text = ""
    mount = mount_of(folder, parse_mounts(mounts_text))
    if mount is not None:
        findings.extend(judge_mount(mount))
    else:
        findings.append(Finding("info", "no /proc/mounts here: filesystem type unknown"))
    if not os.access(folder, os.W_OK):
        return [*findings, Finding("fail", f"{folder} is not writable")]
    files = check_files(folder)
    if any(finding.level == "fail" for finding in files):
        return [*findings, *files]  # the lock test needs a file of its own there
    return [*findings, *files, *check_locks(folder)]
