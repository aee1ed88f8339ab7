"""Suites 1 and 2: start-up of whole processes, and the overhead of wrapping a command.

Invariant: each wbrun figure sits next to bare `true` and bare `python -c pass` timed in
the same invocation with the same environment; the wrap overhead is a difference of two
medians measured back to back.
"""
from __future__ import annotations

import shutil

from benchmarks.context import REPO, Context
from benchmarks.report import Row, at_most, ratio

TRUE = shutil.which("true") or "/bin/true"
VERSION_MAX_S = 0.100
IMPORT_MAX_RATIO = 3.0
WRAP_MAX_S = 0.150


def run(ctx: Context) -> list[Row]:
    bare_true = ctx.time([TRUE])
    bare_python = ctx.time([ctx.python, "-c", "pass"])
    base = [("`true`", bare_true.median, "s"), ("`python -c pass`", bare_python.median, "s")]
    rows = [_version_row(ctx, base), _ls_empty_row(ctx, base)]
    rows += _import_rows(ctx, bare_python.median)
    rows += _wrap_rows(ctx, bare_true.median)
    return rows


def _version_row(ctx: Context, base: list) -> Row:
    sample = ctx.time([*ctx.wbrun, "--version"])
    peers = []
    for peer in ("wandb", "mlflow"):
        script = ctx.peer_script(peer) if ctx.has(peer) else None
        if script:
            peers.append((f"`{peer} --version`", ctx.time([script, "--version"]).median, "s"))
    return Row("start-up", "`wbrun --version`", sample.median, "s", base + peers,
               target="<= 100 ms", ok=at_most(sample.median, VERSION_MAX_S),
               data=sample.as_json())


def _ls_empty_row(ctx: Context, base: list) -> Row:
    empty = ctx.fresh_dir("empty-store")
    sample = ctx.time([*ctx.wbrun, "runs", "ls", "--dir", str(empty)])
    return Row("start-up", "`wbrun runs ls`, empty store", sample.median, "s", base,
               data=sample.as_json())


def _import_rows(ctx: Context, bare_s: float) -> list[Row]:
    peers = []
    for peer in ("wandb", "mlflow"):
        if ctx.has(peer):
            peers.append((f"`import {peer}`",
                          ctx.time([ctx.peer_python, "-c", f"import {peer}"]).median, "s"))
    rows = []
    for code, label in (("import wandb_cli", "`python -c 'import wandb_cli'`"),
                        ("import wandb_cli.sdk.start", "`python -c 'import wandb_cli.sdk.start'` "
                                                 "(what `init()` loads)")):
        sample = ctx.time([ctx.python, "-c", code])
        times = ratio(sample.median, bare_s)
        rows.append(Row("start-up", label, sample.median, "s",
                        [("`python -c pass`", bare_s, "s"), *peers],
                        target="<= 3x bare Python",
                        ok=None if times is None else times <= IMPORT_MAX_RATIO,
                        detail=f"{times:.2f}x" if times else "", data=sample.as_json()))
    rows.append(_compat_import_row(ctx, bare_s, peers))
    return rows


def _compat_import_row(ctx: Context, bare_s: float, peers: list) -> Row:
    """`import wandb` as a wrapped program gets it: the compatibility package first on
    PYTHONPATH (what `wbrun --` puts there), with no numpy/torch in the program."""
    import os

    from wandb_cli.runner.wandb_shim import child_env

    env = child_env(dict(ctx.env if ctx.env is not None else os.environ), "on")
    sample = ctx.time([ctx.python, "-c", "import wandb; wandb.init; wandb.log"], env=env)
    times = ratio(sample.median, bare_s)
    return Row("start-up", "`import wandb` under `wbrun --` (the compatibility package)",
               sample.median, "s", [("`python -c pass`", bare_s, "s"), *peers],
               target="<= 3x bare Python", ok=None if times is None else times <= IMPORT_MAX_RATIO,
               detail=f"{times:.2f}x" if times else "", data=sample.as_json())


def _wrap_rows(ctx: Context, true_s: float) -> list[Row]:
    """Wrapping `true` in a folder that is not a git checkout, then inside this checkout
    (where the metadata thread also asks git for commit, remote, status and branch)."""
    store = ctx.fresh_dir("wrap-store")
    plain = ctx.fresh_dir("wrap-cwd")
    argv = [*ctx.wbrun, "-q", "--dir", str(store), "--", TRUE]
    rows = []
    for where, cwd, judged in (("", plain, True), (", inside a git checkout", REPO, False)):
        sample = ctx.time(argv, cwd=cwd)
        overhead = sample.median - true_s
        rows.append(Row(
            "wrap", f"`wbrun -q -- true` minus `true`{where}", overhead, "s",
            [("`true`", true_s, "s"), ("`wbrun -q -- true`", sample.median, "s")],
            target="<= 150 ms" if judged else "", ok=at_most(overhead, WRAP_MAX_S) if judged else None,
            data=sample.as_json()))
    return rows
