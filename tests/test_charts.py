"""Charts: data preparation (clean, smooth, group, downsample), terminal and SVG rendering."""
from __future__ import annotations

import copy
import math
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_cli.charts import data as charts
from wandb_cli.charts import svg as chart_svg
from wandb_cli.charts import term as chart_term
from wandb_cli.charts.axes import display_width, format_number, frame, legend_text, log_ticks, nice_ticks, printable
from wandb_cli.charts.data import Band, GroupData, Line, Panel, SeriesData, build_panel
from wandb_cli.errors import UsageError

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"
SGR = re.compile(r"\x1b\[[0-9;]*m")
HOSTILE = "evil\x1b]0;pwned\x07 [bold]red[/bold] \x9b31m\u202eend"


def golden_panels() -> list[Panel]:
    xs = list(range(0, 100, 5))
    loss_a = [1.0 / (1 + 0.1 * x) for x in xs]
    loss_b = [0.8 - 0.006 * x for x in xs]
    lines = build_panel("loss", [SeriesData("run-a", xs, loss_a), SeriesData("run-b", xs, loss_b)])
    members = [(xs, [0.5 + 0.004 * x + d for x in xs]) for d in (-0.1, 0.0, 0.1)]
    group = build_panel("acc", [GroupData("lr=0.1", members)], x_label="_runtime")
    empty = build_panel("grad_norm", [SeriesData("run-a", [], [])])
    return [lines, group, empty]


# ---- terminal ---------------------------------------------------------------------------


def test_terminal_chart_matches_golden_file():
    text = chart_term.render_panels(golden_panels(), width=48, height=8, color=False)
    assert text == (GOLDEN / "chart_term_48x8.txt").read_text(encoding="utf-8")


def test_colour_adds_only_sgr_codes_around_the_same_text():
    panels = golden_panels()
    plain = chart_term.render_panels(panels, width=48, height=8, color=False)
    coloured = chart_term.render_panels(panels, width=48, height=8, color=True)
    assert "\x1b" not in plain
    assert "\x1b[34m" in coloured and "\x1b[31m" in coloured  # the two runs differ
    assert SGR.sub("", coloured) == plain
    assert "\x1b" not in SGR.sub("", coloured)


def test_colour_only_on_a_terminal_without_no_color():
    assert chart_term.color_enabled({}, isatty=True)
    assert chart_term.color_enabled({"NO_COLOR": ""}, isatty=True)  # empty means unset (no-color.org)
    assert not chart_term.color_enabled({"NO_COLOR": "1"}, isatty=True)
    assert not chart_term.color_enabled({}, isatty=False)


@pytest.mark.parametrize("color", [False, True])
def test_hostile_names_reach_the_terminal_as_literal_text(color):
    panel = build_panel(HOSTILE, [SeriesData(HOSTILE, [0, 1, 2], [1, 2, 3])], x_label="\x1b[2J")
    text = chart_term.render_panels([panel], width=120, height=5, color=color)
    bare = SGR.sub("", text)
    for control in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert control not in bare
    assert "[bold]red[/bold]" in bare
    assert r"evil\x1b]0;pwned\x07 [bold]red[/bold] \x9b31m\u202eend" in bare
    assert r"\x1b[2J" in bare


def test_missing_metric_and_single_point_draw_without_error():
    empty = build_panel("lr", [SeriesData("a", [], []), SeriesData("b", ["x", None], [None, "nan"])])
    single = build_panel("loss", [SeriesData("a", [7], [0.25]), SeriesData("b", [], [])])
    text = chart_term.render_panels([empty, single], width=40, height=6, color=False)
    empty_text, single_text = text.split("\n\n")
    assert "no data" in empty_text and "a (no data)" in empty_text
    assert "no data" not in single_text.replace("b (no data)", "")
    assert len(re.findall("[\u2801-\u28ff]", single_text)) == 1  # the one point, as one dot
    assert "b (no data)" in single_text


def test_every_line_fits_the_width_even_with_long_and_wide_names():
    names = ["x" * 300, "训练损失" * 30, "short"]
    panel = build_panel("长い名前" * 20, [SeriesData(n, [0, 1], [1, 2]) for n in names])
    for width in (24, 40, 73):
        for line in chart_term.render_panels([panel], width=width, height=4).splitlines():
            assert display_width(line) <= width


def test_log_axis_drops_non_positive_values_with_a_note():
    xs = list(range(6))
    ys = [1.0, 0.0, 0.1, -5.0, 0.001, 1e-4]
    panel = build_panel("lr", [SeriesData("a", xs, ys)], log_y=True)
    assert panel.items[0].ys == [1.0, 0.1, 0.001, 1e-4]
    assert panel.notes == ("2 values <= 0 not drawn on the log scale",)
    text = chart_term.render_panels([panel], width=60, height=8)
    assert "note: 2 values <= 0 not drawn on the log scale" in text
    assert "lr (log scale)" in text
    labels = [label for _, label in frame(panel, x_ticks=4, y_ticks=4).y_ticks]
    assert labels == ["0.0001", "0.01", "1"]


# ---- SVG --------------------------------------------------------------------------------


def _paths(root: ET.Element, cls: str) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("class") == cls]


def test_svg_parses_with_one_path_per_series_and_the_names_in_the_legend():
    members = [([0, 1, 2], [1, 2, 3]), ([0, 1, 2], [2, 3, 5])]
    panels = [
        build_panel("loss <&>", [SeriesData(HOSTILE, [0, 1, 2], [3, 2, 1]), SeriesData("b&c", [0, 2], [1, 1])]),
        build_panel("acc", [GroupData("grp", members), SeriesData("solo", [1], [2])]),
        build_panel("empty", [SeriesData("gone", [], [])]),
    ]
    root = ET.fromstring(chart_svg.render_svg(panels))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]
    assert len(groups) == 3
    for group, panel in zip(groups, panels):
        assert len(_paths(group, "series")) == len(panel.items)
        texts = {t.text for t in group.iter(f"{SVG}text")}
        legend = [t.text for t in group.iter(f"{SVG}text") if t.get("class") == "legend"]
        assert legend == [legend_text(item) for item in panel.items]
        assert printable(panel.title) in texts
    first, second, third = groups
    assert printable(HOSTILE) in [t.text for t in first.iter(f"{SVG}text")]
    assert "loss <&>" in [t.text for t in first.iter(f"{SVG}text")]
    assert [t.text for t in first.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert len(_paths(second, "band")) == 1 and len(_paths(first, "band")) == 0
    assert "no data" in [t.text for t in third.iter(f"{SVG}text")]


def test_svg_band_outlines_min_and_max(tmp_path):
    members = [([0, 10], [1.0, 4.0]), ([0, 10], [3.0, 2.0])]
    panel = build_panel("m", [GroupData("g", members)])
    target = tmp_path / "chart.svg"
    chart_svg.write_chart(target, [panel], width=400, panel_height=100)
    root = ET.parse(target).getroot()
    band = _paths(root, "band")[0].get("d")
    points = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", band)]
    assert len(points) == 4  # hi at x=0 and x=10, then lo back
    (x0, hi0), (x1, hi1), (x2, lo1), (x3, lo0) = points
    assert x0 == x3 < x1 == x2
    assert hi0 < lo0 and hi1 < lo1  # SVG y grows downwards: hi is above lo
    assert hi1 < hi0  # max 4.0 at x=10 is above max 3.0 at x=0


def test_write_chart_rejects_other_suffixes(tmp_path):
    with pytest.raises(UsageError, match=r"\.svg or \.png"):
        chart_svg.write_chart(tmp_path / "chart.pdf", golden_panels())


def test_png_without_an_image_library_is_a_one_line_usage_error(tmp_path, monkeypatch):
    for module in ("cairosvg", "matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(UsageError) as caught:
        chart_svg.write_chart(tmp_path / "chart.png", golden_panels())
    assert "\n" not in caught.value.render() and "matplotlib" in caught.value.render()
    assert not (tmp_path / "chart.png").exists()


def test_png_with_an_image_library(tmp_path):
    if not any(_importable(m) for m in ("cairosvg", "matplotlib")):
        pytest.skip("neither cairosvg nor matplotlib is installed")
    chart_svg.write_chart(tmp_path / "chart.png", golden_panels())
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except (ImportError, OSError):
        return False
    return True


# ---- data preparation -------------------------------------------------------------------


def test_clean_drops_non_numbers_and_sorts_without_touching_the_input():
    xs = [3, 1, 2, 4, 5, 6, True, 7, 8, -1e308]
    ys = [30, 10, None, float("nan"), float("inf"), "x", 1, 10**400, 1.7e308, 0]
    before = copy.deepcopy((xs, ys))
    assert charts.clean_points(xs, ys) == ([1.0, 3.0], [10.0, 30.0])
    assert (xs, ys) == before  # (the same NaN object, so equal)


def test_smoothing_is_a_trailing_mean_over_clean_points():
    assert charts.smooth([1, 2, 3, 4, 5], 2) == [1, 1.5, 2.5, 3.5, 4.5]
    assert charts.smooth([4, 8, 0, 4], 3) == [4, 6, 4, 4]
    assert charts.smooth([1, 5], 1) == [1, 5]
    panel = build_panel("m", [SeriesData("a", [0, 1, 2, 3, 4], [1, None, 3, float("nan"), 5])], smooth_window=2)
    assert panel.items[0].xs == [0, 2, 4] and panel.items[0].ys == [1, 2, 4]
    with pytest.raises(UsageError):
        charts.smooth([1.0], 0)


def test_smoothing_stays_exact_after_a_huge_value_leaves_the_window():
    ys = [1e300] + [1.0] * 50
    assert charts.smooth(ys, 4)[-1] == 1.0


def test_group_at_shared_steps_gives_mean_min_and_max():
    members = [([0, 1, 2], [1, 2, 3]), ([0, 1, 2], [3, 4, 9]), ([0, 2], [2, 6])]
    band = build_panel("m", [GroupData("g", members)]).items[0]
    assert isinstance(band, Band) and band.runs == 3
    assert band.xs == [0, 1, 2]
    assert band.mean == [2, 3, 6] and band.lo == [1, 2, 3] and band.hi == [3, 4, 9]


def test_group_of_long_runs_is_bucketed_along_x():
    members = [(list(range(1000)), [1.0] * 1000), (list(range(0, 1000, 3)), [3.0] * 334)]
    band = charts.group_band("g", members, buckets=10)
    assert len(band.xs) == 10
    assert band.mean == [2.0] * 10 and band.lo == [1.0] * 10 and band.hi == [3.0] * 10
    assert all(k * 100 <= x < (k + 1) * 100 for k, x in enumerate(band.xs))


def test_group_without_data_is_an_empty_band():
    panel = build_panel("m", [GroupData("g", [([], []), (["a"], [None])])])
    assert panel.empty and panel.items[0].xs == []
    assert "no data" in chart_term.render_panels([panel], width=30, height=3)


# ---- downsampling -----------------------------------------------------------------------


def test_downsampling_keeps_each_buckets_min_and_max_with_their_x():
    n, buckets = 10_000, 100
    xs = list(range(n))
    ys = [math.sin(i / 300) for i in range(n)]
    for i in range(37, n, 211):  # spikes both ways, not on bucket edges
        ys[i] = 50.0 + i if i % 2 else -50.0 - i
    original = (list(xs), list(ys))
    out_x, out_y = charts.downsample_minmax(xs, ys, buckets)
    assert (xs, ys) == original
    assert len(out_x) <= 4 * buckets and out_x == sorted(out_x)
    kept = set(zip(out_x, out_y))
    width = (n - 1) / buckets  # bucket k: k*width <= x < (k+1)*width
    for k in range(buckets):
        points = [(x, y) for x, y in zip(xs, ys)
                  if k * width <= x < (k + 1) * width or (k == buckets - 1 and x == n - 1)]
        assert max(points, key=lambda p: p[1]) in kept
        assert min(points, key=lambda p: p[1]) in kept
    spikes = [(x, y) for x, y in zip(xs, ys) if abs(y) > 2]
    assert spikes and set(spikes) <= kept
    assert (0, ys[0]) in kept and (n - 1, ys[-1]) in kept


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.floats(-1e6, 1e6)), min_size=1, max_size=400),
    st.integers(1, 30),
)
def test_downsampled_points_are_input_points_and_keep_every_buckets_extremes(points, buckets):
    points.sort(key=lambda p: p[0])
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    out_x, out_y = charts.downsample_minmax(xs, ys, buckets)
    assert out_x == sorted(out_x) and len(out_x) <= max(len(xs), 4 * buckets)
    assert set(zip(out_x, out_y)) <= set(zip(xs, ys))
    bounds = charts.bucket_bounds(xs, buckets)
    assert bounds[0] == 0 and bounds[-1] == len(xs) and bounds == sorted(bounds)
    kept = set(zip(out_x, out_y))
    for a, b in zip(bounds, bounds[1:]):
        if b > a:
            assert max(ys[a:b]) in {y for x, y in kept if xs[a] <= x <= xs[b - 1]}
            assert min(ys[a:b]) in {y for x, y in kept if xs[a] <= x <= xs[b - 1]}


def test_panels_are_downsampled_for_drawing_but_the_data_is_not():
    xs = list(range(50_000))
    ys = [float(i % 1000) for i in xs]
    panel = build_panel("m", [SeriesData("a", xs, ys)])
    rows = chart_term.render_panels([panel], width=60, height=5).splitlines()
    top, bottom = rows[1][5:], rows[5][5:]  # the first and last rows of the plot area
    assert sum(ch != " " for ch in top) > 40 and sum(ch != " " for ch in bottom) > 40  # every sawtooth
    assert len(panel.items[0].xs) == 50_000
    svg = ET.fromstring(chart_svg.render_svg([panel], width=300))
    d = _paths(svg, "series")[0].get("d")
    assert d.count("L") < 4 * 300


# ---- axes and text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "target", "expected"),
    [
        (0, 49, 5, ["0", "10", "20", "30", "40"]),
        (-0.013, 0.027, 4, ["-0.01", "0", "0.01", "0.02"]),
        (0, 2500, 5, ["0", "500", "1.0k", "1.5k", "2.0k", "2.5k"]),
        (0.1, 0.95, 4, ["0.2", "0.4", "0.6", "0.8"]),
    ],
)
def test_nice_ticks(lo, hi, target, expected):
    ticks = nice_ticks(lo, hi, target)
    assert [label for _, label in ticks] == expected
    assert all(lo <= position <= hi for position, _ in ticks)


def test_log_ticks_and_number_format():
    assert [label for _, label in log_ticks(-5, 3, 5)] == ["0.0001", "0.01", "1", "100"]
    assert [label for _, label in log_ticks(0.1, 0.6, 4)] == ["2", "3"]
    assert [format_number(v) for v in (0, 1.5e-5, 2e6, -3e9, 1e16)] == ["0", "1.5e-5", "2M", "-3G", "1e16"]


def test_printable_escapes_every_control_character():
    assert printable("plain [b]name[/b]") == "plain [b]name[/b]"
    assert printable("a\x1b[31mb\nc\x9b\u202e\ud800") == r"a\x1b[31mb\nc\x9b\u202e\ud800"


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.7e308, -1.7e308, 1e300, -1e300, 5e-324]),
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=30), st.lists(st.tuples(json_values, json_values), max_size=30)), max_size=4),
    st.booleans(), st.integers(1, 5), st.integers(10, 100), st.integers(1, 10),
)
def test_any_history_renders_within_bounds_and_as_valid_svg(runs, log_y, window, width, height):
    data = [SeriesData(label, [x for x, _ in pts], [y for _, y in pts]) for label, pts in runs]
    panel = build_panel("métrique\x1b", data, log_y=log_y, smooth_window=window)
    for item in panel.items:
        assert isinstance(item, Line) and all(math.isfinite(v) for v in item.xs + item.ys)
        assert not log_y or all(v > 0 for v in item.ys)
    text = chart_term.render_panels([panel], width=width, height=height)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    assert all(display_width(line) <= max(width, chart_term.MIN_WIDTH) for line in text.splitlines())
    root = ET.fromstring(chart_svg.render_svg([panel]))
    assert len(_paths(root, "series")) == len(runs)


def test_axes_survive_extreme_values_found_by_hypothesis():
    """Regressions: a log axis padded past 1e308, and a span below float resolution."""
    from wandb_cli.charts.axes import log_ticks, nice_ticks

    ticks = log_ticks(253.0, 309.7, 5)
    assert ticks and all(math.isfinite(10.0 ** position) for position, _ in ticks)
    tiny = nice_ticks(0.0, 5e-324, 5)  # raised "math domain error" before
    assert all(0.0 <= position <= 5e-324 for position, _ in tiny)
    assert [label for _, label in nice_ticks(0.0, 1.0, 5)][:2] == ["0", "0.2"]
