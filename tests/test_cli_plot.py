"""`wbrun runs plot`: charts of real runs, made by the real wrapper and SDK, drawn by the
real command (terminal text, SVG, the PNG message) and its errors."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import wbrun_cmd

from wandb_cli.charts.data import SeriesData, build_panel
from wandb_cli.charts.term import render_panels

SVG = "{http://www.w3.org/2000/svg}"
STEPS = 6
# run name -> (lr, scale): a run logs loss = scale / (step + 1) and acc = 1 - loss
RUNS = {"alpha": (0.1, 1.0), "beta": (0.1, 1.2), "gamma": (0.01, 0.8), "delta": (0.01, 0.9)}

TRAIN = """
import sys, time
scale = float(sys.argv[1])
for step in range({steps}):
    loss = scale / (step + 1)
    print(f"loss={{loss!r}} acc={{1 - loss!r}}", flush=True)
    time.sleep(float(sys.argv[2]))
"""

SDK = """
import sys
import wandb_cli as wandb
for name, lr, scale in {runs!r}:
    run = wandb.init(project="plots", name=name, config={{"lr": lr}})
    for step in range({steps}):
        loss = scale / (step + 1)
        run.log({{"loss": loss, "acc": 1 - loss}})
    run.finish()
"""


def loss(name: str) -> list[float]:
    return [RUNS[name][1] / (step + 1) for step in range(STEPS)]


def _quiet_env(store: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WBRUN_", "WANDB_"))}
    return {**env, "WBRUN_DIR": str(store), "NO_COLOR": "1", "COLUMNS": "120"}


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> Path:
    """Four finished runs: alpha (with system samples every 0.1 s) and beta by the wrapper,
    gamma and delta by the SDK; alpha and beta have lr 0.1, gamma and delta lr 0.01."""
    store = tmp_path_factory.mktemp("plots") / "wandb"
    env = _quiet_env(store)
    train = TRAIN.format(steps=STEPS)
    for name, extra, pause in (("alpha", ["--system-interval", "0.1"], "0.06"), ("beta", ["--no-system"], "0")):
        lr, scale = RUNS[name]
        subprocess.run(wbrun_cmd("-q", "-p", "plots", "-n", name, "-c", f"lr={lr}", *extra, "--",
                                 sys.executable, "-c", train, str(scale), pause),
                       env=env, check=True, capture_output=True, timeout=60)
    sdk_runs = [(name, *RUNS[name]) for name in ("gamma", "delta")]
    subprocess.run([sys.executable, "-c", SDK.format(runs=sdk_runs, steps=STEPS)],
                   env=env, check=True, capture_output=True, timeout=60)
    return store


@pytest.fixture
def plot(wbrun, shared_store):
    """`wbrun runs plot ARGS` over the shared store."""
    def run(*args: str, code: int = 0, **kwargs):
        return wbrun("runs", "plot", *args, env={"WBRUN_DIR": str(shared_store)}, check_code=code, **kwargs)
    return run


def svg_panels(path: Path) -> list[ET.Element]:
    return ET.parse(path).getroot().findall(f"{SVG}g[@class='panel']")


def panel_title(panel: ET.Element) -> str:
    return panel.find(f"{SVG}text[@class='title']").text


def legend(panel: ET.Element) -> list[str]:
    return [text.text for text in panel.findall(f"{SVG}text[@class='legend']")]


# ---- terminal ---------------------------------------------------------------------------


def test_terminal_chart_is_the_chart_of_the_logged_values(plot):
    result = plot("alpha", "gamma", "--metric", "loss", "--width", "60", "--height", "8")
    expected = render_panels([build_panel("loss", [SeriesData(name, list(range(STEPS)), loss(name))
                                                   for name in ("alpha", "gamma")])], width=60, height=8)
    assert result.stdout == expected
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 8 + 2 + 1  # title, plot rows, x axis, legend
    assert lines[-1] == "━━ alpha  ━━ gamma"
    assert "\x1b" not in result.stdout and result.stderr == ""


def test_default_selection_and_metrics_with_the_width_from_columns(plot):
    result = plot("--height", "5")
    titles = [line.strip() for line in result.stdout.splitlines() if line.strip() in ("loss", "acc")]
    assert titles == ["loss", "acc"]  # the numeric metrics every run shares, in logged order
    assert max(len(line) for line in result.stdout.splitlines()) <= 120  # COLUMNS=120
    legend_line = result.stdout.splitlines()[1 + 5 + 2]
    assert legend_line == "━━ delta  ━━ gamma  ━━ beta  ━━ alpha"  # as runs ls: newest first
    by_acc = plot("alpha", "--x", "acc", "--height", "3").stdout.splitlines()
    assert by_acc[0].strip() == "loss" and by_acc[1 + 3 + 1].endswith(" acc")  # the x key is no chart
    assert len(by_acc) == 1 + 3 + 2 + 1


def test_filter_sort_and_limit_select_runs_as_runs_ls_does(plot):
    legend_of = lambda out: out.splitlines()[1 + 3 + 2]
    assert legend_of(plot("--filter", "lr = 0.01", "-m", "loss", "--height", "3").stdout) == "━━ delta  ━━ gamma"
    assert legend_of(plot("--sort", "name", "-n", "2", "-m", "loss", "--height", "3").stdout) == "━━ alpha  ━━ beta"
    assert legend_of(plot("--sort", "-loss", "-n", "1", "-m", "acc", "--height", "3").stdout) == "━━ beta"
    # anchored on whole names: --search also matches IDs, and a random ID may start with a or b
    assert legend_of(plot("--search", "^(alpha|beta)$", "-m", "loss", "--height", "3").stdout) == "━━ beta  ━━ alpha"
    named = plot("gamma", "alpha", "delta", "--filter", "lr = 0.01", "-m", "loss", "--height", "3").stdout
    assert legend_of(named) == "━━ gamma  ━━ delta"  # named runs keep their order


def test_without_limit_ten_runs_are_drawn_unless_grouped(wbrun, tmp_path):
    script = ("import wandb_cli as wandb\n"
              "for i in range(12):\n"
              "    r = wandb.init(name=f'r{i:02}', config={'seed': i})\n"
              "    r.log({'loss': i}); r.log({'loss': i + 1}); r.finish()\n")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60)
    result = wbrun("runs", "plot", "--sort", "name", "-o", str(tmp_path / "a.svg"), check_code=0)
    assert "plotting the first 10 of 12 runs" in result.stderr
    assert legend(svg_panels(tmp_path / "a.svg")[0]) == [f"r{i:02}" for i in range(10)]
    result = wbrun("runs", "plot", "--group-by", "project", "-o", str(tmp_path / "b.svg"), check_code=0)
    assert "plotting the first" not in result.stderr
    # a metric only runs past the first 10 logged: the error comes after the note that says
    # which runs were chosen (it was the error alone, "no number logged under 'late'")
    late = ("import wandb_cli as wandb\n"
            "r = wandb.init(name='r12'); r.log({'late': 1}); r.finish()\n")
    subprocess.run([sys.executable, "-c", late], check=True, capture_output=True, timeout=60)
    result = wbrun("runs", "plot", "--sort", "name", "-m", "late", check_code=1)
    assert result.stderr.splitlines() == [
        "wbrun: note: plotting the first 10 of 13 runs; choose with --limit N, --filter or RUN arguments",
        "wbrun: error: no number logged under 'late' in the history of the selected runs; metrics there: loss"]
    assert legend(svg_panels(tmp_path / "b.svg")[0]) == ["project=Uncategorized (mean of 12 runs, min-max band)"]


def test_smoothing_and_log_scale_change_the_chart(plot):
    raw = plot("alpha", "-m", "loss", "--width", "50", "--height", "6").stdout
    smoothed = plot("alpha", "-m", "loss", "--width", "50", "--height", "6", "--smooth", "3").stdout
    expected = render_panels([build_panel("loss", [SeriesData("alpha", list(range(STEPS)), loss("alpha"))],
                                          smooth_window=3)], width=50, height=6)
    assert smoothed == expected != raw
    assert "loss (log scale)" in plot("alpha", "-m", "loss", "--log-y").stdout


def test_color_only_on_a_terminal_and_never_with_no_color(shared_store):
    def on_pty(no_color: str | None) -> bytes:
        env = _quiet_env(shared_store)
        env.pop("NO_COLOR")
        if no_color is not None:
            env["NO_COLOR"] = no_color
        leader, follower = pty.openpty()
        with subprocess.Popen(wbrun_cmd("runs", "plot", "alpha", "-m", "loss", "--width", "40", "--height", "4"),
                              stdout=follower, stderr=subprocess.DEVNULL, env=env) as process:
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert process.wait(timeout=30) == 0
        os.close(leader)
        return b"".join(chunks)

    assert b"\x1b[" in on_pty(None)
    assert b"\x1b" not in on_pty("1") and b"alpha" in on_pty("1")


# ---- SVG and PNG ------------------------------------------------------------------------


def test_svg_has_one_series_path_per_run_and_the_legend_names(plot, tmp_path):
    target = tmp_path / "runs.svg"
    result = plot("--output", str(target))
    assert result.stdout == "" and "wrote 2 charts" in result.stderr
    panels = svg_panels(target)
    assert [panel_title(p) for p in panels] == ["loss", "acc"]
    for panel in panels:
        assert len(panel.findall(f"{SVG}path[@class='series']")) == 4
        assert not panel.findall(f"{SVG}path[@class='band']")
        assert legend(panel) == ["delta", "gamma", "beta", "alpha"]


def test_group_by_draws_each_group_as_mean_line_with_min_max_band(plot, tmp_path):
    target = tmp_path / "groups.svg"
    plot("--group-by", "lr", "--metric", "loss", "--output", str(target))
    [panel] = svg_panels(target)
    assert len(panel.findall(f"{SVG}path[@class='band']")) == 2
    assert len(panel.findall(f"{SVG}path[@class='series']")) == 2
    assert legend(panel) == ["lr=0.01 (mean of 2 runs, min-max band)", "lr=0.1 (mean of 2 runs, min-max band)"]
    text = plot("--group-by", "lr", "-m", "loss", "--width", "60", "--height", "10").stdout
    assert "░" in text and "lr=0.1 (mean of 2 runs, min-max band)" in text


@pytest.mark.skipif(any(__import__("importlib").util.find_spec(name) for name in ("cairosvg", "matplotlib")),
                    reason="an image library is installed, so PNG output works")
def test_png_without_an_image_library_says_what_to_install(plot, tmp_path):
    target = tmp_path / "runs.png"
    result = plot("--output", str(target), code=2)
    assert "PNG output needs matplotlib or cairosvg" in result.stderr and ".svg" in result.stderr
    assert result.stderr.count("\n") == 1 and not target.exists()


# ---- system metrics ---------------------------------------------------------------------


def test_system_metrics_against_runtime(plot, tmp_path):
    result = plot("alpha", "--system", "--width", "70", "--height", "5")
    for title in ("CPU Utilization (%) · system.cpu", "System Memory Utilization (%) · system.memory_percent",
                  "Process Memory In Use (MB) · system.proc.memory.rssMB"):
        assert title in result.stdout
    assert result.stdout.count("_runtime") >= 3 and "_step" not in result.stdout
    assert "no data" not in result.stdout
    target = tmp_path / "cpu.svg"
    plot("alpha", "beta", "--system", "--metric", "cpu", "-o", str(target))
    [panel] = svg_panels(target)
    assert panel_title(panel) == "CPU Utilization (%) · system.cpu"
    assert legend(panel) == ["alpha", "beta (no data)"]  # beta ran with --no-system


# ---- awkward data -----------------------------------------------------------------------


def test_missing_metric_single_point_and_hostile_names_draw(wbrun, tmp_path):
    hostile = "evil\x1b]0;pwned\x07 [bold]x[/bold]"
    script = (
        "import wandb_cli as wandb\n"
        f"r = wandb.init(name={hostile!r}); r.log({{'loss': 0.5, 'acc': 0.1}}); r.log({{'loss': 0.25}}); r.finish()\n"
        "r = wandb.init(name='single'); r.log({'loss': 2.0, 'acc': 0.5}); r.finish()\n"
        "r = wandb.init(name='acc-only'); r.log({'acc': 0.2}); r.log({'acc': 0.3}); r.finish()\n"
        "for _ in range(2):\n"
        "    r = wandb.init(name='twin'); r.log({'acc': 0.4}); r.finish()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60)
    result = wbrun("runs", "plot", "--metric", "loss", "--width", "80", "--height", "6", check_code=0)
    assert "━━ acc-only (no data)  ━━ single  ━━ evil\\x1b]0;pwned\\x07 [bold]x[/bold]" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    target = tmp_path / "awkward.svg"
    wbrun("runs", "plot", "-o", str(target), check_code=0)
    panels = svg_panels(target)
    assert [panel_title(p) for p in panels] == ["acc"]  # the one metric all the runs share
    twins = [name for name in legend(panels[0]) if name.startswith("twin")]
    assert len(twins) == 2 and all(re.fullmatch(r"twin \([a-z0-9]{8}\)", name) for name in twins)
    assert len(set(twins)) == 2  # a shared name gets the run's ID
    assert "not plotted, logged by only some runs: loss" in wbrun("runs", "plot").stderr


def test_default_metrics_are_capped_with_a_note(wbrun):
    values = ", ".join(f"'m{i}': {i}" for i in range(9))
    script = f"import wandb_cli as wandb\nr = wandb.init(name='wide'); r.log({{{values}, 'text': 'x'}}); r.finish()\n"
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60)
    result = wbrun("runs", "plot", "--height", "3", check_code=0)
    assert [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("m")] == \
        [f"m{i}" for i in range(6)]
    assert "plotting 6 of 9 metrics (m0, m1, m2, m3, m4, m5); choose others with --metric KEY" in result.stderr


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("args, code, message", [
    (["-m", "nope"], 1, "no number logged under 'nope' in the history of the selected runs; metrics there: loss, acc"),
    (["-m", "system.cpu"], 1, "system metrics are drawn with --system"),
    (["--x", "nope"], 2, "bad --x 'nope'"),
    (["--system", "--x", "_step"], 2, "bad --x '_step': not a number in the system samples"),
    (["beta", "--system"], 1, "no system samples"),
    (["--filter", "lr > 5"], 1, "no runs selected: none of the 4 runs matched"),
    (["--smooth", "0"], 2, "bad --smooth 0"),
    (["--width", "0"], 2, "bad --width 0"),
    (["nosuchrun"], 1, "no run matches 'nosuchrun'"),
    (["-o", "chart.txt"], 2, "must end in .svg or .png"),
])
def test_errors_are_one_clear_line(plot, args, code, message):
    result = plot(*args, code=code)
    assert message in result.stderr and result.stdout == ""


def test_an_empty_store_has_no_runs_to_plot(wbrun):
    result = wbrun("runs", "plot", check_code=1)
    assert "no runs selected: the store has no runs yet" in result.stderr
