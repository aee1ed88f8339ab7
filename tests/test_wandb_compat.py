"""W&B code runs unchanged (issue 15): W&B-style programs, run through `import wandb` under
`wbrun --` and through `import wandb_cli as wandb` alone, checked through `wbrun runs
ls/show/history --format json`. The real W&B SDK is installed on this machine; every
program runs with it poisoned (helpers_compat.py), so none of this can pass through it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_compat import DOORS, REPO, history, metrics_only, program_env, run_program, runs, show


def only(found: list[dict]) -> dict:
    assert len(found) == 1, [(r["id"], r["name"], r["project"]) for r in found]
    return found[0]


# --- 1. `import wandb` inside a wrapped run ------------------------------------------------
def test_import_wandb_is_wbrun_under_the_wrapper_and_in_python_subprocesses(tmp_path):
    result = run_program(tmp_path, "wrapped", """
        import importlib.metadata, subprocess, sys
        import wandb
        print(wandb.__version__, importlib.metadata.version("wandb"), "shim" in wandb.__file__)
        child = "import wandb, importlib.metadata as m; print('child', m.version('wandb'), wandb.__file__)"
        print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout)
        wandb.init(config={"lr": 0.1}).log({"loss": 0.5})
    """)
    from wandb_cli.compat import WANDB_VERSION

    assert result.stdout.splitlines()[0] == f"{WANDB_VERSION} {WANDB_VERSION} True"
    assert f"child {WANDB_VERSION}" in result.stdout and "compat/shim/wandb" in result.stdout
    assert (REPO / "wandb_cli" / "compat" / "shim" / f"wandb-{WANDB_VERSION}.dist-info").is_dir()
    assert "import wandb: wbrun's compatibility package" in result.stderr  # the closing block
    run = only(runs())
    assert run["wandb_compat"] == "on" and run["summary"] == {"loss": 0.5}
    assert show(run["id"])["wandb_compat"] == "on"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["option", "env"])
def test_wandb_compat_off_leaves_the_installed_wandb(tmp_path, how):
    args = ("--wandb-compat", "off") if how == "option" else ()
    env = {"WBRUN_WANDB_COMPAT": "off"} if how == "env" else {}
    code = "import importlib.util; print(importlib.util.find_spec('wandb').origin)\n"
    path = tmp_path / "work" / "which.py"
    path.write_text(code)
    result = subprocess.run([sys.executable, "-m", "wandb_cli", *args, "--", sys.executable, str(path)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO), **env})
    assert result.returncode == 0, result.stderr
    assert "site-packages" in result.stdout and "shim" not in result.stdout
    assert "the program's own (--wandb-compat off)" in result.stderr
    assert only(runs())["wandb_compat"] == "off"


def test_bad_wandb_compat_value_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "wandb_cli", "--wandb-compat", "maybe", "--",
                             "true"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and "--wandb-compat" in result.stderr
    assert runs() == []


def test_import_wandb_loads_nothing_heavy(tmp_path):
    result = run_program(tmp_path, "wrapped", """
        import sys
        import wandb
        heavy = [m for m in ("numpy", "torch", "rich", "typer", "psutil", "pandas", "PIL")
                 if m in sys.modules]
        print("heavy", heavy)
    """)
    assert "heavy []" in result.stdout


def test_star_import_gives_live_run_config_and_summary(tmp_path):
    result = run_program(tmp_path, "alone", """
        from wandb_cli import *
        import wandb_cli
        assert not run and wandb_cli.run is None
        first = init(config={"a": 1})
        log({"x": 1})
        print(run.id == first.id, config.a, summary["x"], run == first)
        first.finish()
        second = init(config={"a": 2})
        print(run.id == second.id, config.a)
    """)
    assert result.stdout.split() == ["True", "1", "1", "True", "True", "2"]


# --- 2. the W&B surface ---------------------------------------------------------------------
QUICKSTART = """
    import argparse
    import wandb

    wandb.login()
    wandb.require("core")
    wandb.setup()
    args = argparse.Namespace(lr=0.01, epochs=3)
    run = wandb.init(project="quick", config=args, notes="first", tags=["t1"],
                     settings=wandb.Settings(start_method="thread"))
    run.config.update({"batch": 32})
    run.config.setdefaults({"batch": 64, "arch": "cnn"})
    run.define_metric("acc", summary="max")
    run.define_metric("loss", summary="min,last", goal="minimize")
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("hidden_metric", hidden=True, summary="none")
    for epoch in range(3):
        wandb.log({"epoch": epoch, "acc": [0.5, 0.9, 0.7][epoch], "loss": [3.0, 1.0, 2.0][epoch],
                   "hidden_metric": epoch})
        wandb.log({"val/loss": 0.1 * (epoch + 1)})
    wandb.log({})
    wandb.summary.update({"best_epoch": 1})
    run.name, run.notes, run.tags = "renamed", "second", ["t1", "t2"]
    run.group, run.job_type = "g1", "train"
    wandb.alert(title="Low acc", text="acc below 0.8", level=wandb.AlertLevel.WARN)
    print("urls", run.url, run.get_url(), run.get_project_url(), run.get_sweep_url(), run.sweep_id)
    run._label(code="quickstart")
    run.mark_preempting()
    print("flags", run.offline, run.disabled, run.settings.run_id == run.id)
    wandb.finish()
"""


@pytest.mark.parametrize("door", DOORS)
def test_quickstart_program(tmp_path, door):
    result = run_program(tmp_path, door, QUICKSTART)
    assert "urls None None None None None" in result.stdout
    assert "flags True False True" in result.stdout
    run = only(runs())
    assert run["name"] == "renamed" and run["notes"] == "second" and run["tags"] == ["t1", "t2"]
    assert (run["group"], run["job_type"]) == ("g1", "train")
    assert run["project"] == "quick" and run["state"] == "finished"
    assert run["config"] == {"lr": 0.01, "epochs": 3, "batch": 32, "arch": "cnn"}
    assert run["summary"] == {"acc": {"max": 0.9}, "loss": {"min": 1.0, "last": 2.0},
                              "epoch": 2, "val/loss": pytest.approx(0.3), "best_epoch": 1}
    rows = metrics_only(history(run["id"]))
    # step_sync: each val/* row carries the last epoch; log({}) is an empty step
    assert rows[1] == {"val/loss": pytest.approx(0.1), "epoch": 0}
    assert rows[-1] == {} and len(rows) == 7
    shown = show(run["id"])
    assert shown["alerts"][0]["title"] == "Low acc" and shown["alerts"][0]["level"] == "WARN"
    assert {m["name"]: m["step_metric"] for m in shown["metrics"]}["val/*"] == "epoch"
    assert "wbrun: alert [WARN] Low acc: acc below 0.8" in result.stderr


@pytest.mark.parametrize("door", DOORS)
def test_config_rules(tmp_path, door):
    result = run_program(tmp_path, door, """
        import wandb
        from wandb.sdk.lib.config_util import ConfigError
        class Opts:
            def __init__(self):
                self.depth, self.width, self._private = 4, 8, "x"
        from absl import flags
        flags.DEFINE_integer("seed", 7, "seed")
        flags.FLAGS(["prog"])
        run = wandb.init(config={"lr": 0.1, "secret": 1, "--dashed": 2},
                         config_exclude_keys=["secret"])
        run.config.update(Opts())
        run.config.update(flags.FLAGS)
        try:
            run.config.lr = 0.2
        except ConfigError as exc:
            print("refused", "allow_val_change" in str(exc))
        run.config.update({"lr": 0.3}, allow_val_change=True)
        print(run.config.lr, "secret" in run.config)
    """.replace("from wandb.sdk.lib.config_util import ConfigError",
                "from wandb.sdk.lib.config_util import ConfigError" if door == "wrapped"
                else "from wandb_cli.sdk.config import ConfigError"))
    assert "refused True" in result.stdout and "0.3 False" in result.stdout
    config = only(runs())["config"]
    assert config["lr"] == 0.3 and config["dashed"] == 2 and "secret" not in config
    assert (config["depth"], config["width"], config["seed"]) == (4, 8, 7)
    assert "_private" not in config


def test_config_include_keys_and_odd_values(tmp_path):
    run_program(tmp_path, "alone", """
        import enum, pathlib
        import wandb
        class Color(enum.Enum):
            RED = "red"
        wandb.init(config={"a": 1, "b": 2, "color": Color.RED, "path": pathlib.Path("/x"),
                           "pair": (1, 2)}, config_include_keys=["a", "color", "path", "pair"])
    """)
    assert only(runs())["config"] == {"a": 1, "color": "red", "path": "/x", "pair": [1, 2]}


def test_unsupported_init_keywords_warn_once_each(tmp_path):
    result = run_program(tmp_path, "wrapped", """
        import wandb
        for _ in range(2):
            run = wandb.init(monitor_gym=True, fork_from="abc?_step=1", anonymous="allow",
                             save_code=True, force=True, reinit=True, magic=True)
            run.finish()
    """)
    for name in ("monitor_gym", "fork_from", "anonymous", "magic"):
        assert result.stderr.count(f"{name}") == 1, (name, result.stderr)
    assert "save_code" not in result.stderr and "force" not in result.stderr
    first = [r for r in runs() if not r.get("parent")][0]
    assert any(f["path"] == "code/prog.py" for f in show(first["id"])["files"])


def test_dir_is_the_folder_that_holds_wandb(tmp_path, monkeypatch):
    monkeypatch.delenv("WBRUN_DIR")
    out = tmp_path / "logs"
    run_program(tmp_path, "alone", f"""
        import wandb
        run = wandb.init(dir={str(out)!r}, project="lightning")
        run.log({{"x": 1}})
        print(run.dir)
    """)
    folders = list((out / "wandb").glob("run-*"))
    assert len(folders) == 1 and (folders[0] / "files" / "wandb-history.jsonl").is_file()


def test_sweeps_say_clearly_they_are_not_supported(tmp_path):
    result = run_program(tmp_path, "wrapped", """
        import wandb
        try:
            wandb.sweep({"method": "grid"})
        except wandb.Error as exc:
            print("sweep:", exc)
    """)
    assert "sweep: wandb.sweep: sweeps are not part of wbrun" in result.stdout


@pytest.mark.parametrize("door", ["wrapped", "alone"])
def test_submodules_are_attributes_after_a_plain_import(tmp_path, door):
    """`wandb.util.generate_id()` and `wandb.errors.CommError` with no `import wandb.util`
    first (AttributeError before), and `from wandb import *` whole (it failed on Molecule)."""
    result = run_program(tmp_path, door, """
        import wandb
        print(len(wandb.errors.CommError.__name__) and len(wandb.util.generate_id()), wandb.errors.CommError.__name__,
              wandb.apis.public.Api is wandb.Api, wandb.integration.__name__.endswith("integration"))
        try:
            raise wandb.errors.CommError("x")
        except wandb.errors.Error:
            print("caught")
        try:
            wandb.Plotly
        except AttributeError as exc:
            print("no Plotly:", "has no attribute 'Plotly'" in str(exc))
    """)
    assert result.stdout.splitlines() == ["8 WbrunError True True", "caught", "no Plotly: True"]
    if door == "wrapped":  # (wandb_cli's own `*` is a short list: init, log, Run...)
        star = run_program(tmp_path, door, "from wandb import *\nprint(Image.__name__, init.__name__)\n")
        assert star.stdout == "Image init\n"


def test_submodules_integrations_import(tmp_path):
    result = run_program(tmp_path, "wrapped", """
        import wandb
        from wandb.sdk.lib import RunDisabled
        from wandb.sdk.lib.config_util import ConfigError
        from wandb.wandb_run import Run as OldRun
        from wandb.sdk.wandb_run import Run
        from wandb.sdk.lib.runid import generate_id
        from wandb.errors import Error, CommError
        import wandb.integration.keras, wandb.plot, wandb.sklearn, wandb.tensorboard
        import sys
        run = wandb.init(mode="disabled")
        print(isinstance(run, (Run, RunDisabled)), OldRun is Run, run.disabled, len(generate_id()))
        print("lazy", [m for m in ("keras", "wandb_cli.media.image", "wandb_cli.media.table", "wandb_cli.api")
                       if m in sys.modules])
    """)
    assert "True True True 8" in result.stdout
    assert "lazy []" in result.stdout  # nothing of keras, media or the Api until a name is used
    assert only(runs())["summary"] == {}  # the wrapper's run; the disabled one wrote nothing


@pytest.mark.parametrize("door", DOORS)
def test_artifacts_models_and_code(tmp_path, door):
    (tmp_path / "work" / "data").mkdir()
    (tmp_path / "work" / "data" / "a.txt").write_text("A")
    (tmp_path / "work" / "data" / "sub").mkdir()
    (tmp_path / "work" / "data" / "sub" / "b.txt").write_text("B")
    (tmp_path / "work" / "model.pt").write_bytes(b"weights")
    (tmp_path / "work" / "ref.txt").write_text("R")
    result = run_program(tmp_path, door, """
        import os
        import wandb
        run = wandb.init(project="art")
        art = wandb.Artifact("dataset", type="dataset", metadata={"rows": 2})
        art.add_dir("data", name="raw")
        art.add_file("model.pt")
        with art.new_file("notes.txt", mode="w") as fh:
            fh.write("made here")
        art.add_reference("file://" + os.path.abspath("ref.txt"))
        logged = run.log_artifact(art, aliases=["latest", "best"])
        print("logged", logged.name, logged.version, sorted(logged.files))
        run.log_model("model.pt", name="net")
        got = run.use_model("net:latest")
        print("model", open(got, "rb").read())
        run.log_code(".", include_fn=lambda path, root: path.endswith("prog.py"))
        run.finish()
    """)
    assert "logged dataset:v0 v0 ['model.pt', 'notes.txt', 'raw/a.txt', 'raw/sub/b.txt', 'ref.txt']" \
        in result.stdout
    assert "model b'weights'" in result.stdout
    shown = show(only(runs())["id"])
    made = {a["ref"]: a["type"] for a in shown["artifacts"]["outputs"]}
    assert made["dataset:v0"] == "dataset" and made["net:v0"] == "model"
    assert any(t == "code" for t in made.values())
    assert any(f["path"] == "code/prog.py" for f in shown["files"])


# --- 4. one program, several runs ------------------------------------------------------------
INTRO_NOTEBOOK = """
    import random
    import wandb

    for project in ("intro-a", "intro-b"):
        for run_index in range(4 if project == "intro-a" else 5):
            run = wandb.init(project=project, config={"lr": 0.01 * (run_index + 1), "i": run_index})
            for epoch in range(3):
                wandb.log({"acc": 0.1 * epoch + run_index, "loss": 1.0 / (epoch + 1)})
            wandb.finish()
"""


@pytest.mark.parametrize("door", DOORS)
def test_intro_notebook_is_nine_runs_in_two_projects(tmp_path, door):
    run_program(tmp_path, door, INTRO_NOTEBOOK, *(("-g", "sweep1") if door == "wrapped" else ()))
    found = runs()
    assert len(found) == 9
    by_project = {p: [r for r in found if r["project"] == p] for p in ("intro-a", "intro-b")}
    assert (len(by_project["intro-a"]), len(by_project["intro-b"])) == (4, 5)
    for run in found:
        assert run["state"] == "finished"
        assert run["summary"] == {"acc": pytest.approx(0.2 + run["config"]["i"]), "loss": pytest.approx(1 / 3)}
        assert run["config"] == {"lr": pytest.approx(0.01 * (run["config"]["i"] + 1)), "i": run["config"]["i"]}
        assert len(history(run["id"])) == 3
    if door == "wrapped":
        wrapper = [r for r in found if not r.get("parent")]
        assert len(wrapper) == 1
        children = [r for r in found if r.get("parent")]
        assert {r["parent"] for r in children} == {wrapper[0]["id"]}
        assert {r["group"] for r in found} == {"sweep1"}
        assert show(children[0]["id"])["parent"] == wrapper[0]["id"]


def test_reinit_modes(tmp_path):
    result = run_program(tmp_path, "alone", """
        import wandb
        a = wandb.init(project="r")
        same = wandb.init(project="r")                  # default: return_previous
        b = wandb.init(project="r", reinit="finish_previous")
        c = wandb.init(project="r", reinit="create_new")  # b stays wandb.run
        print(same is a, a.id != b.id, wandb.run is b, c.id not in (a.id, b.id))
        c.log({"c": 1}); b.log({"b": 1})
        c.finish(); b.finish()
    """)
    assert result.stdout.split() == ["True", "True", "True", "True"]
    assert sorted(r["summary"].get("b", r["summary"].get("c", 0)) for r in runs()) == [0, 1, 1]


def test_second_process_after_the_joined_run_finished_gets_its_own_run(tmp_path):
    (tmp_path / "work" / "step.py").write_text(
        "import sys\nimport wandb\nwandb.init(project=sys.argv[1]).log({'x': 1})\n")
    result = subprocess.run(
        [sys.executable, "-m", "wandb_cli", "--", "bash", "-c",
         f"{sys.executable} step.py train && {sys.executable} step.py eval"],
        capture_output=True, text=True, timeout=120, env=program_env(tmp_path))
    assert result.returncode == 0, result.stderr
    found = {r["project"]: r for r in runs()}
    assert set(found) == {"train", "eval"} and found["eval"]["parent"] == found["train"]["id"]


# --- 6. no lost summary ---------------------------------------------------------------------
@pytest.mark.parametrize("door", DOORS)
def test_os_exit_without_finish_keeps_the_summary_history_implies(tmp_path, door):
    run_program(tmp_path, door, """
        import os
        import wandb
        run = wandb.init(project="exit")
        run.define_metric("acc", summary="max,mean")
        for i in range(5):
            wandb.log({"acc": [0.1, 0.8, 0.3, 0.4, 0.2][i], "loss": 5 - i})
        run.summary["note"] = "set by hand"
        os._exit(0)   # no finish(), no atexit, no summary flush
    """)
    run = [r for r in runs() if r["project"] == "exit"][0]
    if door == "alone":
        assert run["state"] == "crashed"
    assert run["summary"]["acc"] == {"max": 0.8, "mean": pytest.approx(0.36)}
    assert run["summary"]["loss"] == 1


def test_multiprocessing_worker_run_ends_with_its_summary(tmp_path):
    run_program(tmp_path, "alone", """
        import multiprocessing as mp
        import wandb

        def work(i):
            run = wandb.init(project="workers", name=f"worker-{i}")
            for step in range(3):
                run.log({"loss": 1.0 / (step + 1 + i)})

        if __name__ == "__main__":
            procs = [mp.get_context("fork").Process(target=work, args=(i,)) for i in range(2)]
            for p in procs: p.start()
            for p in procs: p.join()
    """)
    found = sorted(runs(), key=lambda r: r["name"])
    assert [r["name"] for r in found] == ["worker-0", "worker-1"]
    for i, run in enumerate(found):
        assert run["state"] == "finished", run
        assert run["summary"] == {"loss": pytest.approx(1.0 / (3 + i))}


@pytest.mark.slow
def test_kill_9_keeps_the_summary_history_implies(tmp_path):
    path = tmp_path / "work" / "busy.py"
    path.write_text("import time\nimport wandb_cli as wandb\nrun = wandb.init(project='k')\n"
                    "for i in range(3):\n    run.log({'loss': 3 - i})\nprint('ready', flush=True)\n"
                    "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True,
                            env=program_env(tmp_path))
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run = only(runs())
    assert run["state"] == "crashed" and run["summary"] == {"loss": 1}


def test_summary_rules_replay_matches_the_live_summary(tmp_path):
    from wandb_cli.store.metrics import SummaryRules, implied_summary

    definitions = [{"name": "acc", "summary": "max,first,best", "goal": "maximize"},
                   {"name": "x/*", "summary": "none"}]
    rows = [{"acc": 0.2, "x/a": 1, "b": True}, {"acc": 0.9, "b": False}, {"acc": float("nan")}]
    live: dict = {}
    rules = SummaryRules(definitions)
    for row in rows:
        rules.update(live, row)
    assert live == implied_summary(rows, definitions) == {
        "acc": {"max": 0.9, "first": 0.2, "best": 0.9}, "b": False}


def test_define_metric_shapes_the_default_charts(tmp_path):
    run_program(tmp_path, "alone", """
        import wandb
        run = wandb.init()
        run.define_metric("val/*", step_metric="epoch")
        run.define_metric("debug", hidden=True)
        for e in range(3):
            run.log({"epoch": e * 10, "val/acc": e / 10, "debug": e, "loss": 1 / (e + 1)})
    """)
    run = only(runs())
    saved = json.loads((Path(run["dir"]) / "files" / "wandb-metrics.json").read_text())
    assert saved[0] == {"name": "val/*", "step_metric": "epoch", "step_sync": True, "summary": None,
                        "goal": None, "hidden": None}
    from wandb_cli.charts.panels import PlotRequest, plot_runs
    from wandb_cli.store.layout import Store

    plot = plot_runs([Store(Path(run["dir"]).parent).find(run["id"])], PlotRequest())
    axes = {panel.title: panel.x_label for panel in plot.panels}
    assert axes == {"epoch": "_step", "val/acc": "epoch", "loss": "_step"}  # debug is hidden


@pytest.mark.slow
@pytest.mark.parametrize("door", DOORS)
def test_watch_logs_gradient_and_parameter_histograms_every_log_freq_steps(tmp_path, door):
    pytest.importorskip("torch", reason="torch is not installed")
    run_program(tmp_path, door, """
        import torch
        import wandb
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        run = wandb.init(project="watch")
        run.watch(model, log="all", log_freq=2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(4):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
            wandb.log({"loss": loss.item()})
        run.unwatch(model)
        loss = model(torch.randn(8, 4)).pow(2).mean(); loss.backward()
        wandb.log({"loss": loss.item()})
        run.finish()
    """, timeout=300)
    rows = history([r for r in runs() if r["project"] == "watch"][0]["id"])
    watched = [sorted(k for k in row if "/" in k) for row in rows]
    keys = ["gradients/0.bias", "gradients/0.weight", "gradients/2.bias", "gradients/2.weight",
            "parameters/0.bias", "parameters/0.weight", "parameters/2.bias", "parameters/2.weight"]
    assert watched == [[], keys, [], keys, []]  # every 2nd step, none after unwatch
    histogram = rows[1]["gradients/0.weight"]
    assert histogram["_type"] == "histogram"
    assert sum(histogram.get("values") or histogram.get("counts") or []) == 12  # 3x4 weights


@pytest.mark.parametrize("door", DOORS)
def test_tags_follow_wandbs_rule_one_to_64_characters(tmp_path, door):
    """W&B's settings refuse an empty tag or one over 64 characters (ValueError); any other
    text is a tag, spaces and all, in init(tags=) and in run.tags = ..."""
    result = run_program(tmp_path, door, """
        import wandb
        for bad in ([""], ["x" * 65]):
            try:
                wandb.init(project="p", tags=bad)
            except ValueError as exc:
                print("refused", "between 1 and 64 characters" in str(exc))
        run = wandb.init(project="p", tags=["with space", "x" * 64, "with space"])
        print(run.tags == ("with space", "x" * 64))
        try:
            run.tags = ("ok", "")
        except ValueError:
            print("refused setter")
        run.tags = run.tags + ("added",)
        run.finish()
        """)
    assert result.stdout.split("\n")[:4] == ["refused True", "refused True", "True", "refused setter"]
    assert only(runs())["tags"] == ["with space", "x" * 64, "added"]


@pytest.mark.parametrize("door", DOORS)
def test_settings_take_wandbs_legacy_private_names(tmp_path, door):
    """`wandb.Settings(_service_wait=300)` (a widely copied fix for init timeouts): W&B reads
    a `_name` as `x_name`; wbrun refused it with TypeError, so init never ran."""
    result = run_program(tmp_path, door, """
        import wandb
        settings = wandb.Settings(_service_wait=300, _disable_stats=True)
        print(settings._service_wait, settings.x_service_wait, settings.x_disable_stats)
        run = wandb.init(project="p", settings=settings)
        run.log({"a": 1})
        run.finish()
        """)
    assert result.stdout.splitlines()[0] == "300 300 True"
    assert only(runs())["summary"] == {"a": 1}


def test_the_closing_block_lists_numbers_and_text_not_media(tmp_path):
    """W&B's closing "Run summary" holds numbers and text; a histogram (from wandb.watch, 64
    bins per parameter) was printed there as a line of thousands of characters."""
    result = run_program(tmp_path, "wrapped", """
        import wandb
        run = wandb.init(project="p")
        run.log({"loss": 0.25, "phase": "train", "weights": wandb.Histogram(list(range(100)))})
        run.finish()
        """)
    block = result.stderr[result.stderr.index("Run summary:"):]
    assert "loss 0.25" in block and "phase train" in block
    assert "weights" not in block and "bins" not in result.stderr
    assert max(map(len, result.stderr.splitlines())) < 200
    assert set(only(runs())["summary"]) == {"loss", "phase", "weights"}


def test_lines_printed_after_import_wandb_are_output_not_steps(tmp_path):
    """`print(f"lr={lr}")` between `import wandb` and init() became step 0, so every SDK step
    moved up one and log(..., step=0) was dropped (exploratory review against wandb 0.31,
    which records val_acc at steps 0, 1, 2).  A program that imports wandb and never calls
    init() keeps its printed metrics (recorded when it ends, or after 30 s)."""
    run_program(tmp_path, "wrapped", """
        import wandb
        print("lr=0.1 batch_size=32")
        print("seed: 42", flush=True)
        run = wandb.init(project="p")
        for epoch in range(3):
            wandb.log({"val_acc": 0.5 + epoch / 10}, step=epoch)
        wandb.finish()
        """)
    run = only(runs())
    assert metrics_only(history(run["id"])) == [{"val_acc": 0.5}, {"val_acc": 0.6}, {"val_acc": 0.7}]
    assert [row["_step"] for row in history(run["id"])] == [0, 1, 2]
    assert run["summary"] == {"val_acc": 0.7}
    run_program(tmp_path, "wrapped", """
        import time
        import wandb  # imported, never used
        for i in range(3):
            print(f"loss={i}", flush=True)
            time.sleep(0.3)
        """)
    [printed] = [r for r in runs() if r["id"] != run["id"]]
    rows = history(printed["id"])
    assert metrics_only(rows) == [{"loss": 0}, {"loss": 1}, {"loss": 2}]
    # recorded at the end, with the times they were printed (not all with the end's)
    assert rows[0]["_runtime"] + 0.5 < rows[2]["_runtime"]


def test_printed_metrics_wait_only_while_a_process_that_imported_wandb_lives(tmp_path):
    """A subprocess that only imported wandb (and exited) does not hold the shell's printed
    metrics back: each is in the history while the command still runs."""
    release = tmp_path / "release"
    script = (f"{sys.executable} -c 'import wandb'; echo loss=1; "
              f"while [ ! -e {release} ]; do sleep 0.1; done; echo loss=2")
    command = [sys.executable, "-m", "wandb_cli", "-q", "--id", "importer1", "--", "sh", "-c", script]
    wrapper = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=program_env(tmp_path))
    try:
        deadline = time.monotonic() + 20  # (the hold would last 30 s)
        while not [r for r in runs() if r["id"] == "importer1" and r["summary"].get("loss") == 1]:
            assert time.monotonic() < deadline and wrapper.poll() is None, "loss=1 was held back"
            time.sleep(0.2)
    finally:
        release.touch()
    assert wrapper.wait(timeout=30) == 0, wrapper.stderr.read()
    assert metrics_only(history("importer1")) == [{"loss": 1}, {"loss": 2}]
