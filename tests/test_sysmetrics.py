"""The system-metrics sampler: psutil against real child processes, NVML through a replay
of a real H200 recording (tests/fake_pynvml.py), and the background thread."""
from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import pytest
from fake_pynvml import NVML_ERROR_DRIVER_NOT_LOADED, FakeNVML, load_recording

from wandb_cli.sysmetrics.host import (
    MIN_INTERVAL_S,
    ProcessTreeSampler,
    SamplerThread,
    SystemSampler,
    gpu_metadata,
    start_sampler,
    summarize,
    tree_cpu_percent,
)

BUSY = "while True: pass"
SYSTEM_KEYS = (
    "system.memory_percent", "system.proc.memory.availableMB", "system.disk./.usagePercent",
    "system.disk./.usageGB", "system.disk.in", "system.disk.out", "system.network.sent",
    "system.network.recv",
)
TREE_KEYS = ("system.cpu", "system.proc.cpu.threads", "system.proc.memory.rssMB",
             "system.proc.memory.percent")


@pytest.fixture
def spawn():
    """Start `python -c code` in its own session; wait for its first line; kill its group."""
    started = []

    def run(code: str) -> tuple[subprocess.Popen, str]:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 text=True, start_new_session=True)
        started.append(child)
        return child, child.stdout.readline().strip()

    yield run
    for child in started:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        child.stdout.close()


def tree_cpu_covers(root_pid: int, watched_pid: int, window_s: float = 0.4) -> tuple[float, float]:
    """(CPU seconds the tree sampler of `root_pid` counted over one window, CPU seconds the
    process `watched_pid` consumed in that window, read by psutil inside the same window).

    Asserting the first covers the second checks that the process is counted, whatever share
    of a core the loaded machine could spare it (no percent-of-wall-time threshold)."""
    import psutil

    stamps: list[float] = []

    def clock() -> float:
        stamps.append(time.time())
        return stamps[-1]

    def cpu_s() -> float:
        times = psutil.Process(watched_pid).cpu_times()
        return times.user + times.system

    sampler = ProcessTreeSampler(root_pid, clock=clock)
    sampler.sample()
    before = cpu_s()  # read after the sampler's first reading ...
    time.sleep(window_s)
    consumed = cpu_s() - before  # ... and before its second: a window inside the sampler's
    row = sampler.sample()
    counted = row["system.cpu"] * (stamps[-1] - stamps[-2]) / 100
    return counted, consumed


TICK_S = 0.011  # /proc counts CPU time in 10 ms clock ticks


# -- the process tree, for real -------------------------------------------------------------

def test_busy_child_is_counted_by_cpu_seconds(spawn):
    child, _ = spawn(f"print('ready', flush=True)\n{BUSY}")
    counted, consumed = tree_cpu_covers(child.pid, child.pid)
    assert consumed > 0.02  # it ran: some CPU time, whatever the load
    assert counted >= consumed - TICK_S


def test_idle_child_shows_little_cpu(spawn):
    child, _ = spawn("import time; print('ready', flush=True); time.sleep(60)")
    sampler = ProcessTreeSampler(child.pid)
    sampler.sample()
    time.sleep(0.4)
    assert sampler.sample()["system.cpu"] < 20


def test_busy_grandchild_under_idle_child_counts(spawn):
    code = ("import subprocess, sys, time\n"
            f"g = subprocess.Popen([sys.executable, '-c', {BUSY!r}])\n"
            "print(g.pid, flush=True)\ntime.sleep(60)")
    child, grandchild = spawn(code)
    counted, consumed = tree_cpu_covers(child.pid, int(grandchild))
    assert consumed > 0.02
    assert counted >= consumed - TICK_S  # the grandchild's CPU seconds are in the tree's
    sampler = ProcessTreeSampler(child.pid)
    sampler.sample()
    assert sampler.pids == {child.pid, int(grandchild)}
    assert sampler.sample()["system.proc.cpu.threads"] >= 2


def test_child_holding_200_mb_shows_in_tree_rss(spawn):
    child, _ = spawn("import time\nb = b'x' * (200 * 1024 * 1024)\n"
                     "print('ready', flush=True)\ntime.sleep(60)")
    row = ProcessTreeSampler(child.pid).sample()
    assert row["system.proc.memory.rssMB"] >= 180
    import psutil
    total_mb = psutil.virtual_memory().total / 2**20
    assert row["system.proc.memory.percent"] == pytest.approx(
        100 * row["system.proc.memory.rssMB"] / total_mb)


def test_system_keys_present_and_non_negative():
    sampler = ProcessTreeSampler(os.getpid())
    first = sampler.sample()
    assert first["system.disk.in"] == first["system.network.sent"] == 0
    second = sampler.sample()
    for key in SYSTEM_KEYS + TREE_KEYS:
        assert isinstance(second[key], (int, float)) and second[key] >= 0, key
    assert 0 < second["system.memory_percent"] < 100
    assert 0 < second["system.disk./.usagePercent"] <= 100


def test_network_counts_bytes_since_the_sampler_started():
    sampler = ProcessTreeSampler(os.getpid())
    sampler.sample()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        for _ in range(100):
            tx.sendto(b"x" * 10_000, rx.getsockname())
    row = sampler.sample()
    assert row["system.network.sent"] >= 1_000_000
    assert row["system.network.recv"] >= 1_000_000


def test_ended_root_gives_system_keys_only():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    row = ProcessTreeSampler(child.pid).sample()
    assert not set(TREE_KEYS) & set(row)
    assert set(SYSTEM_KEYS) <= set(row)


def test_a_root_pid_taken_by_another_process_is_not_the_run():
    sampler = ProcessTreeSampler(os.getpid())
    assert "system.cpu" in sampler.sample()
    sampler._root_created -= 10  # as if the run's root had been an older process
    row = sampler.sample()
    assert not set(TREE_KEYS) & set(row) and sampler.pids == frozenset()


# -- CPU arithmetic (pure) ------------------------------------------------------------------

def test_cpu_is_the_delta_over_wall_time():
    seen = {(10, 100.0): 5.0, (11, 100.0): 1.0}
    now = {(10, 100.0): 6.0, (11, 100.0): 1.5}
    assert tree_cpu_percent(now, 202.0, seen, 200.0, ncpu=4) == pytest.approx(75.0)


def test_reused_pid_counts_only_the_new_process():
    seen = {(10, 100.0): 50.0}
    now = {(10, 201.0): 0.5}  # pid 10 again, but a process started after the last sample
    assert tree_cpu_percent(now, 202.0, seen, 200.0, ncpu=4) == pytest.approx(25.0)


def test_old_process_seen_late_gets_its_share_of_the_window():
    now = {(10, 100.0): 10.0}  # 10 s of CPU over 102 s of life, 2 s of which in the window
    cpu = tree_cpu_percent(now, 202.0, {}, 200.0, ncpu=4)
    assert cpu == pytest.approx(100 * 10.0 * 2 / 102 / 2)


def test_first_sample_measures_since_the_oldest_process_started():
    now = {(10, 100.0): 3.0, (11, 150.0): 3.0}
    assert tree_cpu_percent(now, 200.0, {}, None, ncpu=4) == pytest.approx(6.0)
    assert tree_cpu_percent({}, 200.0, {}, None) is None


# -- GPUs through the recording ---------------------------------------------------------------

RECORDING = load_recording()
LOAD_PID = RECORDING["load_pid"]


def expected_gpu(frame: dict, prefix: str) -> dict:
    """The recording's fields under W&B's names, converted; unsupported ones left out."""
    fields = {"gpu": frame["gpu_util"], "memory": frame["memory_util"],
              "memoryAllocatedBytes": frame["memory_used"],
              "memoryAllocated": 100 * frame["memory_used"] / frame["memory_total"],
              "temp": frame["temp_c"], "powerWatts": frame["power_mw"] / 1000,
              "enforcedPowerLimitWatts": frame["power_limit_mw"] / 1000,
              "powerPercent": 100 * frame["power_mw"] / frame["power_limit_mw"],
              "smClock": frame["sm_clock_mhz"], "memoryClock": frame["mem_clock_mhz"],
              "graphicsClock": frame["graphics_clock_mhz"], "fanSpeed": frame["fan_pct"],
              "correctedMemoryErrors": frame["ecc_corrected"],
              "uncorrectedMemoryErrors": frame["ecc_uncorrected"],
              "pcieLinkGen": frame["pcie_gen"], "pcieLinkWidth": frame["pcie_width"]}
    return {prefix + k: v for k, v in fields.items() if not isinstance(v, dict)}


def gpu_part(row: dict, prefix: str) -> dict:
    return {k: v for k, v in row.items() if k.startswith(prefix)}


def test_gpu_keys_follow_the_recording_and_process_keys_follow_the_tree(spawn):
    load, _ = spawn("import time; print('ready', flush=True); time.sleep(60)")
    nvml = FakeNVML(pid_map={LOAD_PID: load.pid})
    sampler = SystemSampler(os.getpid(), nvml=nvml)  # the load is our child: in the tree
    with_process = 0
    for frame, in RECORDING["series"]:
        row = sampler.sample()
        assert gpu_part(row, "system.gpu.0.") == pytest.approx(expected_gpu(frame, "system.gpu.0."))
        assert "system.gpu.0.fanSpeed" not in row
        process = gpu_part(row, "system.gpu.process.0.")
        if not frame["processes"]:
            assert process == {}
            continue
        with_process += 1
        held = frame["processes"][0]["used_gpu_memory"]
        want = expected_gpu(frame, "system.gpu.process.0.")
        want["system.gpu.process.0.memoryAllocatedBytes"] = held
        want["system.gpu.process.0.memoryAllocated"] = 100 * held / frame["memory_total"]
        assert process == pytest.approx(want)
    assert with_process == sum(bool(f["processes"]) for f, in RECORDING["series"]) > 0
    assert sampler.errors == 0
    assert nvml.calls["nvmlInit"] == 1
    assert nvml.calls["nvmlDeviceGetFanSpeed"] == 1  # not supported: not asked again


def test_gpu_memory_of_a_process_outside_the_tree_is_not_the_runs():
    nvml = FakeNVML(pid_map={LOAD_PID: 1})  # init holds it: no descendant of ours
    sampler = SystemSampler(os.getpid(), nvml=nvml)
    rows = [sampler.sample() for _ in RECORDING["series"]]
    assert any("system.gpu.0.gpu" in row for row in rows)
    assert not any(k.startswith("system.gpu.process.") for row in rows for k in row)


def test_a_transient_nvml_error_drops_the_field_once():
    class FlakyTemperature(FakeNVML):
        def nvmlDeviceGetTemperature(self, handle, sensor):
            if not self.calls["flaky"]:
                self.calls["flaky"] += 1
                raise self.NVMLError(15)  # NVML_ERROR_GPU_IS_LOST
            return super().nvmlDeviceGetTemperature(handle, sensor)

    sampler = SystemSampler(os.getpid(), nvml=FlakyTemperature())
    first, second = sampler.sample(), sampler.sample()
    assert "system.gpu.0.temp" not in first and "system.gpu.0.gpu" in first
    assert second["system.gpu.0.temp"] == RECORDING["series"][0][0]["temp_c"]


def no_gpu_rows(capsys, nvml, samples: int = 3) -> list[dict]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = SystemSampler(os.getpid(), nvml=nvml)
        rows = [sampler.sample() for _ in range(samples)]
        sampler.close()
    assert caught == []
    assert capsys.readouterr() == ("", "")
    assert sampler.errors == 0
    assert not any(k.startswith("system.gpu") for row in rows for k in row)
    assert "system.cpu" in rows[-1]
    return rows


def test_no_driver_means_no_gpu_keys_no_warnings_one_attempt(capsys):
    nvml = FakeNVML(init_error=NVML_ERROR_DRIVER_NOT_LOADED)
    no_gpu_rows(capsys, nvml)
    assert nvml.calls["nvmlInit"] == 1
    assert gpu_metadata(nvml) is None


def test_no_pynvml_means_no_gpu_keys(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    no_gpu_rows(capsys, None)
    assert gpu_metadata() is None


def test_real_pynvml_on_a_machine_without_a_driver(capsys):
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver: benchmarks/gpu_check.py covers it")
    no_gpu_rows(capsys, None)
    assert gpu_metadata() is None


def test_gpu_metadata_from_the_recording():
    nvml = FakeNVML()
    device = RECORDING["devices"][0]
    assert gpu_metadata(nvml) == {
        "gpu": device["name"], "gpuCount": 1,
        "gpuNvidia": [{"name": device["name"], "uuid": device["uuid"],
                       "memoryTotal": device["memory_total"], "architecture": "Hopper",
                       "cudaCores": device["cuda_cores"]}],
        "nvidiaDriverVersion": RECORDING["driver"], "cudaVersion": "13.0"}
    assert nvml.calls["nvmlShutdown"] == 1


def test_the_fake_speaks_real_pynvml():
    pynvml = pytest.importorskip("pynvml")
    names = [n for n in dir(FakeNVML) if n.startswith("nvml")]
    assert len(names) > 20
    for name in names:
        real = inspect.signature(getattr(pynvml, name)).parameters
        fake = inspect.signature(getattr(FakeNVML(), name)).parameters
        assert list(fake) == list(real), name
    for name in (n for n in dir(FakeNVML) if n.startswith("NVML_")):
        assert getattr(FakeNVML, name) == getattr(pynvml, name), name
    assert issubclass(pynvml.NVMLError_NotSupported, pynvml.NVMLError)
    assert pynvml.NVMLError(FakeNVML.NVML_ERROR_NOT_SUPPORTED).value == 3


# -- the background thread --------------------------------------------------------------------

def test_a_short_run_gets_a_first_and_a_last_row_and_stops_promptly():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    rows: list[dict] = []
    handle = start_sampler(child.pid, rows.append, interval_s=30)
    child.wait()
    began = time.monotonic()
    handle.stop()
    assert time.monotonic() - began < 10  # not the 30 s interval (a loose bound: load)
    assert not handle.alive and handle._thread.daemon
    assert len(rows) == 2 and handle.rows_dropped == 0
    assert "system.proc.memory.rssMB" in rows[0] and "system.memory_percent" in rows[1]


def test_the_thread_samples_every_interval(spawn):
    child, _ = spawn("import time; print('ready', flush=True); time.sleep(60)")
    rows: list[dict] = []
    handle = start_sampler(child.pid, rows.append, interval_s=0.1, gpu=False)
    time.sleep(0.55)
    handle.stop()
    assert 5 <= len(rows) <= 9
    assert all("system.proc.cpu.threads" in row for row in rows)


def test_errors_in_emit_drop_one_row_not_the_thread():
    rows: list[dict] = []
    failures: list[dict] = []

    def emit(row):
        if not failures:
            failures.append(row)
            raise OSError("disk full")
        rows.append(row)

    handle = start_sampler(os.getpid(), emit, interval_s=0.1, gpu=False)
    time.sleep(0.25)
    handle.stop()
    assert handle.rows_dropped == 1 and len(rows) >= 2


def test_interval_has_a_floor():
    sampler = SystemSampler(os.getpid(), gpu=False)
    assert SamplerThread(sampler, lambda row: None, interval_s=0.001).interval_s == MIN_INTERVAL_S


def test_a_sample_without_gpus_costs_little_cpu():
    # CPU time, not wall time: on a busy shared machine the wall clock measures the others.
    # Even CPU time swells ~3x when the machine is loaded (caches, shared cores), so the
    # budget is relative to a fixed piece of work measured the same way, interleaved: a
    # sample costs under 4 sums of 100,000 integers (about 2 of them, loaded or not).
    sampler = SystemSampler(os.getpid(), gpu=False)
    sampler.sample()
    costs, references = [], []
    for _ in range(21):
        began = time.thread_time()
        sampler.sample()
        costs.append(time.thread_time() - began)
        began = time.thread_time()
        sum(range(100_000))
        references.append(time.thread_time() - began)
    assert sorted(costs)[10] < 4 * sorted(references)[10]


def test_importing_the_module_loads_neither_psutil_nor_pynvml():
    code = ("import sys, wandb_cli.sysmetrics.host\n"
            "print(sorted({'psutil', 'pynvml'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- summarize --------------------------------------------------------------------------------

def test_summarize_gives_min_mean_max_of_numbers():
    rows = [{"_timestamp": 1.0, "system.cpu": 10.0, "system.gpu.0.gpu": 0, "flag": True},
            {"_timestamp": 2.0, "system.cpu": 30.0, "note": "text"},
            {"_runtime": 3.0, "system.cpu": float("nan"), "system.gpu.0.gpu": 99}]
    assert summarize(rows) == {"system.cpu": (10.0, 20.0, 30.0),
                               "system.gpu.0.gpu": (0, 49.5, 99)}
    assert summarize([]) == {}
