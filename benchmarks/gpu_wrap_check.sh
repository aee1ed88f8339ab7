#!/usr/bin/env bash
# The real NVIDIA path end to end: the real `wbrun` wraps a short PyTorch bf16 matmul load
# with --system-interval 0.5 and the real NVML; then prints the GPU keys recorded, the peak
# utilisation and memory, the run's GPU metadata and its System section.
# Run on a GPU machine from the repo root with wandb_cli importable (PYTHONPATH=$PWD).
set -euo pipefail
work=$(mktemp -d)
cd "$work"
cat > load.py <<'PY'
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end, n = time.time() + 8, 0
while time.time() < end:
    c = a @ b
    n += 1
    if n % 50 == 0:
        torch.cuda.synchronize()
torch.cuda.synchronize()
print(f"matmuls={n}")
PY
python3 -m wandb_cli --system-interval 0.5 --id gpucheck -p gpu -- python3 load.py || echo "wrapped load exited $?"
python3 -m wandb_cli runs system gpucheck --format json > events.json
python3 -m wandb_cli runs show gpucheck --format json > show.json
python3 - <<'PY'
import json
rows = json.load(open("events.json"))
keys = sorted({k for r in rows for k in r if k.startswith("system.gpu")})
print(f"rows={len(rows)}  gpu keys ({len(keys)}):")
for k in keys:
    values = [r[k] for r in rows if k in r]
    print(f"  {k}: n={len(values)} max={max(values)}")
def peak(k):
    values = [r[k] for r in rows if k in r]
    return max(values) if values else None
print("peak system.gpu.0.gpu =", peak("system.gpu.0.gpu"))
print("peak system.gpu.0.memoryAllocatedBytes =", peak("system.gpu.0.memoryAllocatedBytes"))
print("peak system.gpu.process.0.memoryAllocatedBytes =", peak("system.gpu.process.0.memoryAllocatedBytes"))
show = json.load(open("show.json"))
print("state:", show["state"], "exit_code:", show["exit_code"])
print("metadata.gpu:", json.dumps(show["metadata"].get("gpu")))
PY
COLUMNS=150 python3 -m wandb_cli runs show gpucheck | sed -n '/System/,/Files/p'
