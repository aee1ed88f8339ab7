"""A stand-in for pynvml that replays a real NVML recording (an NVIDIA GPU cannot exist here).

Invariant: the k-th call of one reading (function, GPU, arguments) answers with the k-th
recorded sample, so every full sample a caller takes advances one step through the
recording's `series`, whatever order it reads fields in; past the end the last sample
repeats.  Function names, parameter names and constants are pynvml's (nvidia-ml-py 13.x,
checked by tests/test_sysmetrics.py); a field recorded as {"nvml_error": "Not Supported"}
raises an `NVMLError` subclass whose `.value` is NVML_ERROR_NOT_SUPPORTED, as pynvml does.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

RECORDING = Path(__file__).parent / "fixtures" / "nvml-h200-recording.json"

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12


class NVMLError(Exception):
    """pynvml's error: `.value` is the NVML_ERROR_* code."""

    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


class NVMLError_Uninitialized(NVMLError):
    pass


class NVMLError_InvalidArgument(NVMLError):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_DriverNotLoaded(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


_MESSAGES = {NVML_ERROR_UNINITIALIZED: "Uninitialized",
             NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
             NVML_ERROR_NOT_SUPPORTED: "Not Supported",
             NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
             NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found"}
_CLASSES = {NVML_ERROR_UNINITIALIZED: NVMLError_Uninitialized,
            NVML_ERROR_INVALID_ARGUMENT: NVMLError_InvalidArgument,
            NVML_ERROR_NOT_SUPPORTED: NVMLError_NotSupported,
            NVML_ERROR_DRIVER_NOT_LOADED: NVMLError_DriverNotLoaded,
            NVML_ERROR_LIBRARY_NOT_FOUND: NVMLError_LibraryNotFound}
_CODES = {message: code for code, message in _MESSAGES.items()}


def nvml_error(value: int) -> NVMLError:
    return _CLASSES.get(value, NVMLError)(value)


def load_recording(path: Path = RECORDING) -> dict:
    return json.loads(Path(path).read_text())


class _Handle:
    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"<fake nvmlDevice {self.index}>"


class FakeNVML:
    """Pass an instance where pynvml's module is expected (`nvml=FakeNVML(...)`).

    `pid_map` renames the recording's pids (its `load_pid`) to pids of this machine;
    `init_error` makes nvmlInit fail with that NVML_ERROR_* code, as on a machine
    without a driver.  `calls` counts the calls of each function.
    """

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM = 0, 1, 2
    NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 0, 1
    NVML_VOLATILE_ECC, NVML_AGGREGATE_ECC = 0, 1

    def __init__(self, recording: dict | Path | None = None, *,
                 pid_map: dict[int, int] | None = None, init_error: int | None = None):
        if recording is None or isinstance(recording, (str, Path)):
            recording = load_recording(recording or RECORDING)
        self.recording = recording
        self.series: list[list[dict]] = recording["series"]
        self.pid_map = dict(pid_map or {})
        self.init_error = init_error
        self.calls: Counter[str] = Counter()
        self._inits = 0
        self._cursor: Counter[tuple] = Counter()
        self._handles = [_Handle(i) for i in range(recording["device_count"])]

    # -- the recording ---------------------------------------------------------------
    def frame_of(self, name: str, handle: _Handle, *args: Any) -> dict:
        """The recorded sample this call answers from; each call moves its cursor on."""
        self._check(name)
        if not isinstance(handle, _Handle):
            raise nvml_error(NVML_ERROR_INVALID_ARGUMENT)
        key = (name, handle.index, args)
        step = min(self._cursor[key], len(self.series) - 1)
        self._cursor[key] += 1
        return self.series[step][handle.index]

    def _field(self, name: str, handle: _Handle, field: str, *args: Any) -> Any:
        value = self.frame_of(name, handle, *args)[field]
        if isinstance(value, dict) and "nvml_error" in value:
            raise nvml_error(_CODES.get(value["nvml_error"], NVML_ERROR_NOT_SUPPORTED))
        return value

    def _check(self, name: str) -> None:
        self.calls[name] += 1
        if self._inits <= 0:
            raise nvml_error(NVML_ERROR_UNINITIALIZED)

    def _device(self, name: str, handle: _Handle) -> dict:
        self._check(name)
        return self.recording["devices"][handle.index]

    # -- library ---------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise nvml_error(self.init_error)
        self._inits += 1

    def nvmlShutdown(self) -> None:
        self._check("nvmlShutdown")
        self._inits -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check("nvmlSystemGetDriverVersion")
        return self.recording["driver"]

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._check("nvmlSystemGetNVMLVersion")
        return self.recording["nvml_version"]

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._check("nvmlSystemGetCudaDriverVersion")
        return self.recording["cuda_driver_version"]

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount")
        return len(self._handles)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._check("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self._handles):
            raise nvml_error(NVML_ERROR_INVALID_ARGUMENT)
        return self._handles[index]

    # -- static device facts ----------------------------------------------------------
    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._device("nvmlDeviceGetName", handle)["name"]

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        return self._device("nvmlDeviceGetUUID", handle)["uuid"]

    def nvmlDeviceGetArchitecture(self, device: _Handle) -> int:
        return self._device("nvmlDeviceGetArchitecture", device)["architecture"]

    def nvmlDeviceGetNumGpuCores(self, device: _Handle) -> int:
        return self._device("nvmlDeviceGetNumGpuCores", device)["cuda_cores"]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: _Handle) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkGeneration", handle)["max_pcie_gen"]

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: _Handle) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkWidth", handle)["max_pcie_width"]

    # -- readings that change -----------------------------------------------------------
    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> SimpleNamespace:
        frame = self.frame_of("nvmlDeviceGetUtilizationRates", handle)
        return SimpleNamespace(gpu=frame["gpu_util"], memory=frame["memory_util"])

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle, version: Any = None) -> SimpleNamespace:
        frame = self.frame_of("nvmlDeviceGetMemoryInfo", handle, version)
        used, total = frame["memory_used"], frame["memory_total"]
        return SimpleNamespace(total=total, free=total - used, used=used)

    def nvmlDeviceGetTemperature(self, handle: _Handle, sensor: int) -> int:
        if sensor != self.NVML_TEMPERATURE_GPU:
            raise nvml_error(NVML_ERROR_INVALID_ARGUMENT)
        return self._field("nvmlDeviceGetTemperature", handle, "temp_c", sensor)

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        return self._field("nvmlDeviceGetPowerUsage", handle, "power_mw")

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        return self._field("nvmlDeviceGetEnforcedPowerLimit", handle, "power_limit_mw")

    def nvmlDeviceGetClockInfo(self, handle: _Handle, type: int) -> int:
        field = {self.NVML_CLOCK_SM: "sm_clock_mhz", self.NVML_CLOCK_MEM: "mem_clock_mhz",
                 self.NVML_CLOCK_GRAPHICS: "graphics_clock_mhz"}.get(type)
        if field is None:
            raise nvml_error(NVML_ERROR_INVALID_ARGUMENT)
        return self._field("nvmlDeviceGetClockInfo", handle, field, type)

    def nvmlDeviceGetFanSpeed(self, handle: _Handle) -> int:
        return self._field("nvmlDeviceGetFanSpeed", handle, "fan_pct")

    def nvmlDeviceGetTotalEccErrors(self, handle: _Handle, errorType: int,
                                    counterType: int) -> int:
        field = {self.NVML_MEMORY_ERROR_TYPE_CORRECTED: "ecc_corrected",
                 self.NVML_MEMORY_ERROR_TYPE_UNCORRECTED: "ecc_uncorrected"}.get(errorType)
        if field is None or counterType not in (self.NVML_VOLATILE_ECC, self.NVML_AGGREGATE_ECC):
            raise nvml_error(NVML_ERROR_INVALID_ARGUMENT)
        return self._field("nvmlDeviceGetTotalEccErrors", handle, field, errorType, counterType)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: _Handle) -> int:
        return self._field("nvmlDeviceGetCurrPcieLinkGeneration", handle, "pcie_gen")

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: _Handle) -> int:
        return self._field("nvmlDeviceGetCurrPcieLinkWidth", handle, "pcie_width")

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[SimpleNamespace]:
        frame = self.frame_of("nvmlDeviceGetComputeRunningProcesses", handle)
        return [SimpleNamespace(pid=self.pid_map.get(p["pid"], p["pid"]),
                                usedGpuMemory=p["used_gpu_memory"],
                                gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
                for p in frame["processes"]]
