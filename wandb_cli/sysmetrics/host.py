"""System metrics of a run, sampled as flat rows under W&B's `system.*` names.

Invariants:
- `SystemSampler.sample()` never raises and issues no warning of its own.  A value the
  platform or NVML cannot give is left out of the row, never written as None or 0.
- The run's process tree (the root pid and all its descendants) is found afresh at each
  sample; processes are told apart by (pid, create_time), so a reused pid never inherits
  another process's CPU time, and a root pid reused after the run ended is not the run.
- NVML is initialised at most once per sampler; a machine without a driver pays one failed
  attempt and then nothing.
- psutil and pynvml are imported only inside the functions that use them.

Times are POSIX seconds: `clock` must agree with psutil's `create_time()`.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Iterable

from wandb_cli.sysmetrics.gpu import GpuSampler, gpu_metadata

MB = 1024 * 1024
GB = 1024 ** 3
MIN_INTERVAL_S = 0.1
DEFAULT_INTERVAL_S = 15.0
# Linux create_time() counts from a boot time truncated to whole seconds, so it can read
# up to a second early: a process that looks that much older than the window is still new.
CREATE_TIME_SLACK_S = 1.0

Row = dict[str, Any]

__all__ = [
    "ProcessTreeSampler", "SystemSampler", "SamplerThread", "start_sampler", "gpu_metadata",
    "summarize", "tree_cpu_percent", "DEFAULT_INTERVAL_S", "MIN_INTERVAL_S",
]


class ProcessTreeSampler:
    """CPU, threads and memory of one process tree, plus system-wide memory, disk, network."""

    def __init__(self, root_pid: int, *, clock: Callable[[], float] = time.time,
                 disk_paths: Iterable[str] = ("/",), exclude_pids: Iterable[int] = ()):
        self.root_pid = root_pid
        self.exclude_pids = frozenset(exclude_pids)  # e.g. the sampler's own process
        self.pids: frozenset[int] = frozenset()  # the tree as found by the last sample
        self._clock = clock
        self._disk_paths = tuple(disk_paths)
        self._cpu_seen: dict[tuple[int, float], float] = {}
        self._last_wall: float | None = None
        self._ncpu = 0
        self._root_created: float | None = None
        self._io_base: tuple[int, int] | None = None
        self._net_base: tuple[int, int] | None = None

    def sample(self) -> Row:
        import psutil

        row: Row = {}
        row.update(self._tree_metrics(psutil))
        row.update(self._memory_metrics(psutil, row.get("system.proc.memory.rssMB")))
        row.update(self._disk_metrics(psutil))
        row.update(self._network_metrics(psutil))
        return row

    def _tree(self, psutil) -> list:
        try:
            root = psutil.Process(self.root_pid)
            if self._root_created is None:
                self._root_created = root.create_time()
            if root.create_time() != self._root_created:
                return []  # the run's root has gone and its pid went to another process
            return [p for p in (root, *root.children(recursive=True))
                    if p.pid not in self.exclude_pids]
        except psutil.Error:
            return []

    def _tree_metrics(self, psutil) -> Row:
        cpu_s: dict[tuple[int, float], float] = {}
        rss = threads = 0
        for proc in self._tree(psutil):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    rss_one, threads_one = proc.memory_info().rss, proc.num_threads()
            except psutil.Error:  # it ended while we looked: its last slice is lost
                continue
            cpu_s[key] = times.user + times.system
            rss, threads = rss + rss_one, threads + threads_one
        now = self._clock()
        self._ncpu = self._ncpu or psutil.cpu_count() or 1
        cpu = tree_cpu_percent(cpu_s, now, self._cpu_seen, self._last_wall, ncpu=self._ncpu)
        self._cpu_seen, self._last_wall = cpu_s, now
        self.pids = frozenset(pid for pid, _ in cpu_s)
        if not cpu_s:  # the run has ended: a zero here would be a made-up reading
            return {}
        row: Row = {"system.proc.cpu.threads": threads, "system.proc.memory.rssMB": rss / MB}
        if cpu is not None:
            row["system.cpu"] = cpu
        return row

    def _memory_metrics(self, psutil, tree_rss_mb: float | None) -> Row:
        vm = psutil.virtual_memory()
        row: Row = {"system.memory_percent": vm.percent,
                    "system.proc.memory.availableMB": vm.available / MB}
        if tree_rss_mb is not None and vm.total:
            row["system.proc.memory.percent"] = 100.0 * tree_rss_mb * MB / vm.total
        return row

    def _disk_metrics(self, psutil) -> Row:
        row: Row = {}
        for path in self._disk_paths:
            try:
                usage = psutil.disk_usage(path)
            except OSError:
                continue
            row[f"system.disk.{path}.usagePercent"] = usage.percent
            row[f"system.disk.{path}.usageGB"] = usage.used / GB
        io = _quietly(psutil.disk_io_counters)
        if io is not None:
            now = (io.read_bytes, io.write_bytes)
            self._io_base = self._io_base or now
            row["system.disk.in"] = max(0, now[0] - self._io_base[0]) / MB
            row["system.disk.out"] = max(0, now[1] - self._io_base[1]) / MB
        return row

    def _network_metrics(self, psutil) -> Row:
        net = _quietly(psutil.net_io_counters)
        if net is None:
            return {}
        now = (net.bytes_sent, net.bytes_recv)
        self._net_base = self._net_base or now
        return {"system.network.sent": max(0, now[0] - self._net_base[0]),
                "system.network.recv": max(0, now[1] - self._net_base[1])}


def tree_cpu_percent(cpu_s: dict[tuple[int, float], float], now: float,
                     seen: dict[tuple[int, float], float], since: float | None,
                     *, ncpu: int = 1) -> float | None:
    """CPU % (100 = one core) of a process tree between two samples.

    `cpu_s` and `seen` map (pid, create_time) to CPU seconds now and at the previous
    sample, taken at `since` (None: there was none, and the window starts when the
    oldest process did).  A process first seen now counts its CPU since it started or
    since `since`, whichever is later; a process that began before `since` yet was
    missed then is given the share of its CPU time that falls in the window.
    """
    if not cpu_s:
        return None
    start = min(ct for _, ct in cpu_s) if since is None else since
    used = 0.0
    for key, total in cpu_s.items():
        before = seen.get(key)
        if before is not None:
            used += max(0.0, total - before)
        elif key[1] >= start - CREATE_TIME_SLACK_S:
            used += total
        else:
            used += total * (now - start) / max(now - key[1], 1e-9)
    wall = now - start
    if wall <= 0:
        return None
    return min(max(100.0 * used / wall, 0.0), 100.0 * ncpu)


def _quietly(read: Callable[[], Any]) -> Any:
    """A psutil counter, or None where this platform or container has none."""
    try:
        return read()
    except (OSError, RuntimeError):
        return None


class SystemSampler:
    """One row per `sample()`: the process tree's metrics, then each NVIDIA GPU's.

    `nvml` is the pynvml module (or a stand-in with the same functions); None imports
    pynvml on the first sample.  `gpu=False` skips NVML altogether.
    """

    def __init__(self, root_pid: int, *, nvml: Any = None, gpu: bool = True,
                 clock: Callable[[], float] = time.time, disk_paths: Iterable[str] = ("/",),
                 exclude_pids: Iterable[int] = ()):
        self.tree = ProcessTreeSampler(root_pid, clock=clock, disk_paths=disk_paths,
                                       exclude_pids=exclude_pids)
        self.gpu = GpuSampler(nvml) if gpu else None
        self.errors = 0  # sections dropped because they raised: for diagnosis only
        self.last_error: BaseException | None = None

    def sample(self) -> Row:
        row: Row = {}
        self._section(row, self.tree.sample)
        if self.gpu is not None:
            gpu = self.gpu  # narrowed for the lambda
            self._section(row, lambda: gpu.sample(self.tree.pids))
        return row

    def _section(self, row: Row, read: Callable[[], Row]) -> None:
        try:
            row.update(read())
        except Exception as exc:
            self.errors += 1
            self.last_error = exc

    def close(self) -> None:
        if self.gpu is not None:
            self.gpu.close()


class SamplerThread:
    """Samples on a daemon thread: once at start, every `interval_s`, once at `stop()`.

    `emit(row)` receives each row; an error from a sample or from `emit` drops that row
    and the loop goes on.
    """

    def __init__(self, sampler: SystemSampler, emit: Callable[[Row], None],
                 interval_s: float = DEFAULT_INTERVAL_S):
        self.sampler = sampler
        self.interval_s = max(float(interval_s), MIN_INTERVAL_S)
        self.rows_emitted = 0
        self.rows_dropped = 0
        self._emit = emit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wbrun-sysmetrics",
                                        daemon=True)

    def start(self) -> SamplerThread:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Take the final sample and wait (at most `timeout_s`) for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        self._emit_one()
        while not self._stop.wait(self.interval_s):
            self._emit_one()
        self._emit_one()
        try:
            self.sampler.close()
        except Exception:
            pass

    def _emit_one(self) -> None:
        try:
            self._emit(self.sampler.sample())
            self.rows_emitted += 1
        except Exception:
            self.rows_dropped += 1


def start_sampler(root_pid: int, emit: Callable[[Row], None],
                  interval_s: float = DEFAULT_INTERVAL_S, *, nvml: Any = None,
                  gpu: bool = True, clock: Callable[[], float] = time.time) -> SamplerThread:
    """Start sampling `root_pid`'s process tree on a daemon thread; `.stop()` ends it."""
    sampler = SystemSampler(root_pid, nvml=nvml, gpu=gpu, clock=clock)
    return SamplerThread(sampler, emit, interval_s).start()


def summarize(rows: Iterable[Row]) -> dict[str, tuple[float, float, float]]:
    """key -> (min, mean, max) over the rows' finite numbers; keys starting "_" skipped."""
    seen: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("_") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                seen.setdefault(key, []).append(value)
    return {key: (min(vals), sum(vals) / len(vals), max(vals))
            for key, vals in sorted(seen.items())}
