"""`run.watch(model)`: W&B's `gradients/<name>` and `parameters/<name>` histograms.

As W&B does: each parameter's gradient hook counts backward passes, and every `log_freq`-th
one logs a histogram of that gradient; a forward hook on the model logs the parameters
every `log_freq`-th forward pass. Values go in with `commit=False`, so they join the
program's next `log()` step. torch is only imported by the program itself: this module
reads it from `sys.modules`. Histograms are the media package's `Histogram` when it is
there, else W&B's stored form `{"_type": "histogram", "values", "bins"}` (64 bins).
"""
from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from wandb_cli.errors import UsageError

if TYPE_CHECKING:
    from wandb_cli.sdk.run import Run

LOG_KINDS = ("gradients", "parameters", "all", None)
NUM_BINS = 64


def histogram(tensor: Any) -> Any:
    """A history value for a tensor's distribution."""
    flat = tensor.detach().float().reshape(-1).cpu()
    try:  # the media wing may not be part of this build
        media = importlib.import_module("wandb_cli.media")
        return media.Histogram(flat.numpy(), num_bins=NUM_BINS)
    except (ImportError, AttributeError):
        pass
    lo, hi = float(flat.min()), float(flat.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts = flat.histc(bins=NUM_BINS, min=lo, max=hi)
    width = (hi - lo) / NUM_BINS
    return {"_type": "histogram", "values": [int(c) for c in counts.tolist()],
            "bins": [lo + i * width for i in range(NUM_BINS + 1)]}


def watch(run: Run, models: Any, *, log: str | None, log_freq: int) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        raise UsageError("wandb.watch() needs torch models (torch is not imported)")
    if log not in LOG_KINDS:
        raise UsageError(f"watch(log={log!r}): choose gradients, parameters, all or None")
    if run._live is None or log is None:
        return
    models = models if isinstance(models, (list, tuple)) else [models]
    handles = run.__dict__.setdefault("_watch_handles", [])
    for index, model in enumerate(models):
        if not isinstance(model, torch.nn.Module):
            raise UsageError(f"wandb.watch() takes torch.nn.Module objects, not {type(model).__name__}")
        prefix = f"graph_{index}" if len(models) > 1 else ""
        if log in ("gradients", "all"):
            handles += _watch_gradients(run, model, prefix, max(1, int(log_freq)))
        if log in ("parameters", "all"):
            handles.append(_watch_parameters(run, model, prefix, max(1, int(log_freq))))
    if not run.__dict__.get("_watch_hooked"):
        run.__dict__["_watch_hooked"] = True
        run._finish_hooks.append(lambda: unwatch(run, None))


def _key(kind: str, prefix: str, name: str) -> str:
    return f"{kind}/{prefix + '.' if prefix else ''}{name}"


def _watch_gradients(run: Run, model: Any, prefix: str, log_freq: int) -> list:
    handles = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        calls = [0]

        def hook(grad, name=name, calls=calls):
            calls[0] += 1
            if calls[0] % log_freq == 0 and not run._finished:
                run.log({_key("gradients", prefix, name): histogram(grad)}, commit=False)
        handles.append(param.register_hook(hook))
    return handles


def _watch_parameters(run: Run, model: Any, prefix: str, log_freq: int):
    calls = [0]

    def hook(module, _inputs, _output):
        calls[0] += 1
        if calls[0] % log_freq == 0 and not run._finished:
            run.log({_key("parameters", prefix, name): histogram(p.data)
                     for name, p in module.named_parameters()}, commit=False)
    return model.register_forward_hook(hook)


def unwatch(run: Run, models: Any = None) -> None:
    """Remove every hook `watch` added (W&B removes all of a run's hooks as well)."""
    for handle in run.__dict__.pop("_watch_handles", []):
        handle.remove()
