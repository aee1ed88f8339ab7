"""Check wbrun's system-metrics sampler against a real NVIDIA GPU (H100/H200) through pynvml.

Runs a bf16 matmul load (PyTorch) in a child process for about 8 s, samples the child's
process tree every 0.5 s with `wandb_cli.sysmetrics`, and prints the GPU keys seen, the peaks
of `system.gpu.0.gpu` and `system.gpu.0.memoryAllocatedBytes`, and the process-level keys.
Needs no wbrun CLI and no orjson: it imports the sampler from this checkout.

    python benchmarks/gpu_check.py [--seconds 8] [--interval 0.5] [--rows-json FILE]

Exit status: 0 all checks passed, 1 a check failed, 2 no GPU, driver, pynvml or torch here.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LOAD = r"""
import sys, time, torch
seconds = float(sys.argv[1])
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
hold = torch.empty(6 * 2**30, dtype=torch.uint8, device="cuda")  # ~6 GiB more held
torch.cuda.synchronize()
print("load: started", flush=True)
end, n = time.time() + seconds, 0
while time.time() < end:
    for _ in range(20):
        c = a @ b
    torch.cuda.synchronize()
    n += 20
print(f"load: {n} matmuls of 8192^3 in {seconds:.0f} s", flush=True)
"""


def import_sysmetrics():
    """wandb_cli.sysmetrics from this checkout, even where the package's own imports fail."""
    sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module("wandb_cli.sysmetrics.host")
    except ImportError as exc:  # e.g. no orjson here: skip wandb_cli/__init__.py
        print(f"note: importing wandb_cli failed ({exc}); loading the sampler alone")
        for name in [n for n in sys.modules if n == "wandb_cli" or n.startswith("wandb_cli.")]:
            del sys.modules[name]
        package = types.ModuleType("wandb_cli")
        package.__path__ = [str(REPO / "wandb_cli")]
        sys.modules["wandb_cli"] = package
        return importlib.import_module("wandb_cli.sysmetrics.host")


def why_no_gpu() -> str | None:
    """None when pynvml, the driver, a GPU and CUDA-enabled torch are all here."""
    try:
        import pynvml
    except ImportError:
        return "pynvml is not importable (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return f"NVML could not start ({type(exc).__name__}: {exc}): no NVIDIA driver here"
    try:
        if pynvml.nvmlDeviceGetCount() == 0:
            return "NVML sees no GPU"
    finally:
        pynvml.nvmlShutdown()
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        return f"PyTorch with CUDA is not usable here: {probe.stderr.strip()[-300:] or probe.stdout}"
    return None


def sample_cost_ms(sysmetrics, pid: int, samples: int = 20) -> tuple[float, float]:
    """Median wall ms of one full sample (tree + GPUs), and of the first (NVML init)."""
    sampler = sysmetrics.SystemSampler(pid)
    began = time.perf_counter()
    sampler.sample()
    first = time.perf_counter() - began
    costs = []
    for _ in range(samples):
        began = time.perf_counter()
        sampler.sample()
        costs.append(time.perf_counter() - began)
    sampler.close()
    return statistics.median(costs) * 1e3, first * 1e3


def run_load(sysmetrics, seconds: float, interval_s: float) -> list[dict]:
    rows: list[dict] = []
    started = time.time()

    def emit(row: dict) -> None:
        rows.append({"_runtime": round(time.time() - started, 3), **row})

    load = subprocess.Popen([sys.executable, "-c", LOAD, str(seconds)])
    handle = sysmetrics.start_sampler(load.pid, emit, interval_s=interval_s)
    try:
        code = load.wait(timeout=seconds / 2 + 5)  # CUDA start-up, then mid-load
    except subprocess.TimeoutExpired:
        nvml_pids_hint(handle.sampler.tree.pids)
        code = load.wait()
    handle.stop()
    if code != 0:
        print(f"FAIL: the load exited with {code}")
    print(f"load pid {load.pid}; {len(rows)} rows; sampler errors {handle.sampler.errors} "
          f"(last: {handle.sampler.last_error!r}); rows dropped {handle.rows_dropped}")
    return rows


def report(sysmetrics, rows: list[dict]) -> list[str]:
    """Print what the rows hold; return the failed checks."""
    gpu_keys = sorted({k for row in rows for k in row if k.startswith("system.gpu.")})
    device_keys = [k for k in gpu_keys if not k.startswith("system.gpu.process.")]
    process_keys = [k for k in gpu_keys if k.startswith("system.gpu.process.")]
    print("\nGPU keys seen:", *device_keys, sep="\n  ")
    print("process-level keys seen:", *(process_keys or ["(none)"]), sep="\n  ")
    stats = sysmetrics.summarize(rows)
    print("\nkey: min / mean / max")
    for key in gpu_keys + ["system.cpu", "system.proc.memory.rssMB"]:
        if key in stats:
            low, mean, high = stats[key]
            print(f"  {key}: {low:.6g} / {mean:.6g} / {high:.6g}")
    peak_util = stats.get("system.gpu.0.gpu", (0, 0, 0))[2]
    peak_mem = stats.get("system.gpu.0.memoryAllocatedBytes", (0, 0, 0))[2]
    peak_proc = stats.get("system.gpu.process.0.memoryAllocatedBytes", (0, 0, 0))[2]
    print(f"\npeak system.gpu.0.gpu = {peak_util}")
    print(f"peak system.gpu.0.memoryAllocatedBytes = {peak_mem} ({peak_mem / 2**30:.2f} GiB)")
    print(f"peak system.gpu.process.0.memoryAllocatedBytes = {peak_proc} "
          f"({peak_proc / 2**30:.2f} GiB); rows with process keys: "
          f"{sum('system.gpu.process.0.gpu' in r for r in rows)}/{len(rows)}")
    failed = []
    if peak_util < 50:
        failed.append(f"peak GPU utilisation {peak_util} < 50")
    if peak_mem < 6 * 2**30:
        failed.append(f"peak GPU memory {peak_mem} < 6 GiB")
    if not process_keys:
        failed.append("no system.gpu.process.* keys: NVML's pids did not match the tree")
    if len(rows) < 10:
        failed.append(f"only {len(rows)} rows")
    return failed


def nvml_pids_hint(tree_pids) -> None:
    """What NVML reports mid-load, to compare with the tree's pids (containers may differ)."""
    import pynvml
    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        print("mid-load: NVML compute processes (pid, bytes):",
              [(p.pid, p.usedGpuMemory) for p in procs], "tree pids:", sorted(tree_pids))
    finally:
        pynvml.nvmlShutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--rows-json", type=Path, help="write the sampled rows here")
    args = parser.parse_args()
    sysmetrics = import_sysmetrics()
    reason = why_no_gpu()
    if reason:
        print(f"gpu_check: no GPU check possible: {reason}")
        print("sampler without GPUs:", json.dumps(sysmetrics.SystemSampler(os.getpid()).sample()))
        return 2
    print("metadata:", json.dumps(sysmetrics.gpu_metadata()))
    median_ms, first_ms = sample_cost_ms(sysmetrics, os.getpid())
    print(f"one full sample: median {median_ms:.2f} ms (first, with nvmlInit: {first_ms:.1f} ms)")
    rows = run_load(sysmetrics, args.seconds, args.interval)
    if args.rows_json:
        args.rows_json.write_text(json.dumps(rows, indent=1))
    failed = report(sysmetrics, rows)
    for failure in failed:
        print("FAIL:", failure)
    print("gpu_check:", "FAILED" if failed else "all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
