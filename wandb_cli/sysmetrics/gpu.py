"""NVIDIA GPU metrics through NVML, as flat `system.gpu.*` rows and run metadata.

Invariants: NVML is initialised at most once per `GpuSampler` and a failure (no pynvml, no
driver, no GPU) is remembered, so a machine without a GPU pays one attempt and then nothing,
with no error and no warning.  A field NVML refuses (NVMLError) is left out of the row; one
it reports as not supported is not asked for again.  `nvml` is the pynvml module or a
stand-in with the same function names; pynvml is imported only when none is given.
"""
from __future__ import annotations

from typing import Any

Row = dict[str, Any]

# key suffix, pynvml function, names of the pynvml constants it takes, scale (mW -> W)
_GAUGES = (
    ("temp", "nvmlDeviceGetTemperature", ("NVML_TEMPERATURE_GPU",), None),
    ("powerWatts", "nvmlDeviceGetPowerUsage", (), 1e-3),
    ("enforcedPowerLimitWatts", "nvmlDeviceGetEnforcedPowerLimit", (), 1e-3),
    ("smClock", "nvmlDeviceGetClockInfo", ("NVML_CLOCK_SM",), None),
    ("memoryClock", "nvmlDeviceGetClockInfo", ("NVML_CLOCK_MEM",), None),
    ("graphicsClock", "nvmlDeviceGetClockInfo", ("NVML_CLOCK_GRAPHICS",), None),
    ("fanSpeed", "nvmlDeviceGetFanSpeed", (), None),
    ("correctedMemoryErrors", "nvmlDeviceGetTotalEccErrors",
     ("NVML_MEMORY_ERROR_TYPE_CORRECTED", "NVML_VOLATILE_ECC"), None),
    ("uncorrectedMemoryErrors", "nvmlDeviceGetTotalEccErrors",
     ("NVML_MEMORY_ERROR_TYPE_UNCORRECTED", "NVML_VOLATILE_ECC"), None),
    ("pcieLinkGen", "nvmlDeviceGetCurrPcieLinkGeneration", (), None),
    ("pcieLinkWidth", "nvmlDeviceGetCurrPcieLinkWidth", (), None),
)

ARCHITECTURES = {2: "Kepler", 3: "Maxwell", 4: "Pascal", 5: "Volta", 6: "Turing",
                 7: "Ampere", 8: "Ada", 9: "Hopper", 10: "Blackwell"}


def load_nvml(nvml: Any = None) -> Any:
    """The given NVML module, else pynvml if importable, else None."""
    if nvml is not None:
        return nvml
    if not _driver_present():
        return None
    try:
        import pynvml
    except Exception:
        return None
    return pynvml


def _driver_present() -> bool:
    """On Linux every CUDA/NVML user opens /dev/nvidiactl (WSL2: /dev/dxg); without either,
    importing pynvml (~20 ms) and probing for its library is skipped."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return True
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")


def init_nvml(nvml: Any) -> list[tuple[int, Any]] | None:
    """nvmlInit, then (index, handle) per GPU; None (NVML shut again) when there is none."""
    try:
        nvml.nvmlInit()
    except Exception:
        return None
    handles = []
    for index in range(_maybe(nvml, nvml.nvmlDeviceGetCount) or 0):
        handle = _maybe(nvml, nvml.nvmlDeviceGetHandleByIndex, index)
        if handle is not None:  # a lost or inaccessible GPU: sample the others
            handles.append((index, handle))
    if not handles:
        _shutdown(nvml)
        return None
    return handles


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception:
        pass


class GpuSampler:
    """Per-GPU metrics, plus `system.gpu.process.{i}.*` where the run holds GPU memory."""

    def __init__(self, nvml: Any = None):
        self._given = nvml
        self._nvml: Any = None
        self._handles: list[tuple[int, Any]] | None = None
        self._tried = False
        self._unsupported: set[tuple[int, str]] = set()

    @property
    def available(self) -> bool:
        return bool(self._handles)

    def sample(self, tree_pids: frozenset[int] | set[int] = frozenset()) -> Row:
        if not self._tried:
            self._tried = True
            self._nvml = load_nvml(self._given)
            self._handles = init_nvml(self._nvml) if self._nvml is not None else None
        row: Row = {}
        for index, handle in self._handles or ():
            metrics, total = self._device(index, handle)
            row.update({f"system.gpu.{index}.{k}": v for k, v in metrics.items()})
            held = self._held_by(handle, tree_pids)
            if held is not None:
                row.update(_process_keys(index, metrics, held, total))
        return row

    def close(self) -> None:
        if self._handles:
            _shutdown(self._nvml)
        self._handles = None

    def _device(self, index: int, handle: Any) -> tuple[Row, int | None]:
        """The GPU's metrics by key suffix, and its total memory in bytes."""
        nvml = self._nvml
        out: Row = {}
        util = self._read(index, "util", nvml.nvmlDeviceGetUtilizationRates, handle)
        if util is not None:
            out["gpu"], out["memory"] = util.gpu, util.memory
        mem = self._read(index, "mem", nvml.nvmlDeviceGetMemoryInfo, handle)
        if mem is not None:
            out["memoryAllocatedBytes"] = mem.used
            if mem.total:
                out["memoryAllocated"] = 100.0 * mem.used / mem.total
        for key, func, const_names, scale in _GAUGES:
            args = [getattr(nvml, name) for name in const_names]
            value = self._read(index, key, getattr(nvml, func), handle, *args)
            if value is not None:
                out[key] = value * scale if scale else value
        if out.get("enforcedPowerLimitWatts") and "powerWatts" in out:
            out["powerPercent"] = 100.0 * out["powerWatts"] / out["enforcedPowerLimitWatts"]
        return out, (mem.total if mem is not None else None)

    def _read(self, index: int, key: str, func: Any, *args: Any) -> Any:
        if (index, key) in self._unsupported:
            return None
        try:
            return func(*args)
        except self._nvml.NVMLError as exc:
            if getattr(exc, "value", None) == self._nvml.NVML_ERROR_NOT_SUPPORTED:
                self._unsupported.add((index, key))
            return None

    def _held_by(self, handle: Any, tree_pids: frozenset[int] | set[int]) -> int | None:
        """GPU bytes the tree's processes hold on this GPU; None if it holds no context."""
        if not tree_pids:
            return None
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except self._nvml.NVMLError:
            return None
        ours = [p for p in procs if p.pid in tree_pids]
        if not ours:
            return None
        # usedGpuMemory is None where the driver cannot tell (Windows WDDM)
        return sum(p.usedGpuMemory or 0 for p in ours)


def _process_keys(index: int, metrics: Row, held_bytes: int, total: int | None) -> Row:
    """The device's metrics again under `process`, with memory narrowed to the run's own."""
    prefix = f"system.gpu.process.{index}."
    row = {prefix + k: v for k, v in metrics.items()}
    row[prefix + "memoryAllocatedBytes"] = held_bytes
    if total:
        row[prefix + "memoryAllocated"] = 100.0 * held_bytes / total
    return row


def gpu_metadata(nvml: Any = None) -> dict | None:
    """The NVIDIA GPUs' names, UUIDs, memory, architecture, driver and CUDA version.

    W&B's metadata names: {"gpu", "gpuCount", "gpuNvidia": [...], "cudaVersion",
    "nvidiaDriverVersion"}; None where there is no pynvml, driver or GPU.
    """
    nvml = load_nvml(nvml)
    handles = init_nvml(nvml) if nvml is not None else None
    if not handles:
        return None
    try:
        devices = [_device_info(nvml, handle) for _, handle in handles]
        meta: dict[str, Any] = {"gpu": devices[0].get("name", ""), "gpuCount": len(devices),
                                "gpuNvidia": devices}
        driver = _maybe(nvml, nvml.nvmlSystemGetDriverVersion)
        cuda = _maybe(nvml, nvml.nvmlSystemGetCudaDriverVersion)
        if driver is not None:
            meta["nvidiaDriverVersion"] = driver
        if cuda is not None:  # NVML encodes 12.4 as 12040
            meta["cudaVersion"] = f"{cuda // 1000}.{cuda % 1000 // 10}"
        return meta
    finally:
        _shutdown(nvml)


def _device_info(nvml: Any, handle: Any) -> dict:
    info: dict[str, Any] = {}
    mem = _maybe(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    arch = _maybe(nvml, nvml.nvmlDeviceGetArchitecture, handle)
    cores = _maybe(nvml, getattr(nvml, "nvmlDeviceGetNumGpuCores", None), handle)
    fields = {"name": _maybe(nvml, nvml.nvmlDeviceGetName, handle),
              "uuid": _maybe(nvml, nvml.nvmlDeviceGetUUID, handle),
              "memoryTotal": mem.total if mem is not None else None,
              "architecture": None if arch is None else ARCHITECTURES.get(arch, f"unknown({arch})"),
              "cudaCores": cores}
    info.update({k: v for k, v in fields.items() if v is not None})
    return info


def _maybe(nvml: Any, func: Any, *args: Any) -> Any:
    if func is None:
        return None
    try:
        value = func(*args)
    except nvml.NVMLError:
        return None
    return value.decode() if isinstance(value, bytes) else value
