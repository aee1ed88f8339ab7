"""The table core of `runs ls`: cropping, fitting to a width, default columns, grouping rows."""
from __future__ import annotations

import pytest
from helpers import make_record
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_cli.errors import UsageError
from wandb_cli.query.filter import group_runs, narrow_runs
from wandb_cli.store.model import RunRecord, iso
from wandb_cli.textfmt import CROP_MODES, cell_width, crop
from wandb_cli.views import columns as runs_table
from wandb_cli.views import compare, group_table
from wandb_cli.views.columns import Column, fit


def run(run_id: str, **fields) -> RunRecord:
    return make_record(run_id, **{"project": "p", "created": 1_790_000_000.0 + len(run_id),
                                  "dir": f"/s/{run_id}", **fields})


@pytest.mark.parametrize("mode, expected", [
    ("start", "…efghij"), ("middle", "abc…hij"), ("end", "abcdef…"),
])
def test_crop_modes(mode, expected):
    assert crop("abcdefghij", 7, mode) == expected
    assert crop("abcdefghij", 10, mode) == "abcdefghij"


def test_crop_counts_wide_characters_as_two_cells():
    assert cell_width("日本語") == 6
    assert crop("日本語テキスト", 7, "end") == "日本語…"
    assert cell_width(crop("日本語テキスト", 6, "middle")) <= 6


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=0, max_value=30),
       st.sampled_from(CROP_MODES))
def test_crop_never_exceeds_the_width(text, width, mode):
    cut = crop(text, width, mode)
    assert cell_width(cut) <= width or cell_width(text) <= width
    if cell_width(text) <= width:
        assert cut == text
    elif width > 1:
        assert cut.count("…") >= 1
        if mode == "end":
            assert text.startswith(cut[:-1])
        if mode == "start":
            assert text.endswith(cut[1:])


columns_strategy = st.lists(
    st.tuples(st.text(alphabet="abcxyz", min_size=1, max_size=12),
              st.lists(st.text(alphabet="abc日-", max_size=30), min_size=3, max_size=3),
              st.integers(min_value=0, max_value=100), st.booleans()),
    min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(columns_strategy, st.integers(min_value=20, max_value=200))
def test_fit_stays_within_the_width_and_drops_lowest_priority(specs, width):
    columns = [Column(f"k{i}", header, cells, cells, priority,
                      shrink_to=6 if shrinks else None)
               for i, (header, cells, priority, shrinks) in enumerate(specs)]
    fitted = fit(columns, width)
    if len(fitted.columns) > 1 or fitted.columns[0].minimum <= width:
        assert fitted.total_width <= width
        for row in [fitted.headers, *fitted.rows()]:
            assert all(cell_width(c) <= w for c, w in zip(row, fitted.widths))
    kept = [c.priority for c in fitted.columns]
    assert all(h.priority <= min(kept) for h in fitted.hidden)
    assert len(fitted.columns) + len(fitted.hidden) == len(columns)
    assert [c.key for c in fitted.columns] == [c.key for c in columns if c in fitted.columns]


def test_fit_without_a_width_keeps_everything_at_natural_width():
    column = Column("name", "name", ["x" * 100], ["x" * 100], 1, shrink_to=10, cap=80)
    fitted = fit([column], None)
    assert fitted.widths == [80] and fitted.footer() is None


def test_footer_counts_hidden_columns():
    columns = [Column(f"c{i}", f"col{i}", ["v" * 10], ["v"], 10 - i) for i in range(6)]
    fitted = fit(columns, 30)
    assert [c.key for c in fitted.columns] == ["c0", "c1"]
    assert fitted.footer() == "4 columns hidden (see --colum…"  # cut to the 30 columns
    assert fit(columns, 300).footer() is None


def test_default_columns_prefer_shared_metrics_and_add_sort_keys():
    runs = [run("a", summary={"loss": 1, "acc": 0.5, "_step": 3, "note": "x"}),
            run("b", summary={"loss": 2}), run("c", config={"lr": 0.1}, tags=["t"])]
    keys = [key for key, _h, _p in runs_table.default_keys(runs, sort=["-lr"])]
    assert keys == ["id", "name", "state", "lr", "tags", "created", "runtime",
                    "summary.loss", "summary.acc"]


def test_split_keys_keeps_quoted_commas():
    assert runs_table.split_keys("id, name,summary.`a,b`,") == ["id", "name", "summary.`a,b`"]
    with pytest.raises(UsageError):
        runs_table.split_keys(" , ")


def test_select_narrows_then_limits():
    runs = [run(str(i), project="p" if i % 2 else "q", summary={"v": i}) for i in range(10)]
    chosen, total = narrow_runs(runs, project="p", filter_expr="v > 2", sort=["v"], limit=2)
    assert [r.id for r in chosen] == ["3", "5"] and total == 4
    assert runs_table.limit_note(2, 4, 2) == "showing 2 of 4 runs (--limit 2; raise it to see more)"
    assert runs_table.limit_note(4, 4, 9) is None


def test_group_stat_cells():
    runs = [run("a", config={"o": "x"}, summary={"loss": 1.0}, ended=1_790_000_061.0),
            run("bb", config={"o": "x"}, summary={"loss": 3.0}), run("ccc", summary={"loss": 5})]
    stats = group_table.stat_columns(runs_table.run_columns(runs), ["config.o"])
    assert [c.key for c in stats] == ["runtime", "summary.loss"]
    groups = group_runs(runs, ["config.o"], stats=[c.key for c in stats], spark="summary.loss")
    columns = group_table.group_columns(groups, ["config.o"], stats, dist_key="summary.loss")
    by_key = {c.key: c.cells for c in columns}
    assert by_key["config.o"] == ["x", "(none)"] and by_key["count"] == ["2", "1"]
    assert by_key["summary.loss"] == ["2 (1–3)", "5"] and by_key["runtime"] == ["1m00s", ""]
    spread = group_table.group_columns(groups, ["config.o"], stats, spread="std")
    assert [c.cells for c in spread if c.key == "summary.loss"] == [["2 ± 1.414", "5"]]


def test_compare_rows_treat_types_carefully():
    a = run("a", config={"n": 1, "flag": True, "x": float("nan")}, summary={"s": 1})
    b = run("b", config={"n": 1.0, "flag": 1, "x": float("nan")})
    rows = {row.qualified: row.differs for row in compare.compare_runs([a, b])}
    assert rows == {"config.flag": True, "summary.s": True, "config.n": False, "config.x": False}


@pytest.mark.parametrize("size, shown", [
    (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (1000 * 1024, "1000 KiB"),
    (3 * 2**30, "3 GiB"), (5 * 2**40, "5 TiB"), (2**60, "1048576 TiB"),
])
def test_byte_sizes(size, shown):
    from wandb_cli.textfmt import fmt_size

    assert fmt_size(size) == shown


def _datetime_iso(ts) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=3000)
@given(st.one_of(st.floats(min_value=0, max_value=253402300799.999),
                 st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s + 0.9999995),
                 st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s + 0.0005),
                 st.integers(min_value=-10**10, max_value=10**10)))
def test_iso_spells_every_time_as_datetime_does(ts):
    assert iso(ts) == _datetime_iso(ts)


@pytest.mark.parametrize("ts", [0.0, 0.0005, 0.0004999, 0.9995, 0.9999995, 0.9999994, 59.9999996,
                                86399.9999996, 1_500_000_000.0005, 1_700_000_000.123456,
                                253402300799.0, 253402300799.9994, -1.5, 1e-300])
def test_iso_at_the_edges_of_rounding_and_range(ts):
    assert iso(ts) == _datetime_iso(ts)
    assert iso(None) is None


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
                                  "Africa/Monrovia", "Europe/London", "right/Europe/Paris",
                                  "Pacific/Apia", "XST+0:50", "XST+10YST-14,M3.2.0/23:50,M11.1.0/23:50"])
def test_a_column_of_times_is_spelt_as_each_time_alone(zone, monkeypatch):
    """fmt_times finds each UTC day's offset once: around every change of offset (Lord
    Howe's is half an hour; Kathmandu is 5:45 ahead; Monrovia was 0:44:30 behind until 1972;
    right/ zones count leap seconds; Samoa skipped 30 December 2011; POSIX rules can put a
    zone 50 minutes behind, or move it a whole day at 23:50) and at the edges of rounding,
    it spells what fmt_time does."""
    import os
    import random
    import time

    from wandb_cli import textfmt
    from wandb_cli.textfmt import fmt_time, fmt_times

    if not zone.startswith("XST") and not os.path.exists(f"/usr/share/zoneinfo/{zone}"):
        pytest.skip(f"no {zone} zone here")
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        if zone == "UTC":  # (the quick way is taken: only what it cannot spell goes to fmt_time)
            alone: list = []
            monkeypatch.setattr(textfmt, "fmt_time", lambda ts: alone.append(ts) or fmt_time(ts))
            assert fmt_times([1.7e9, 1.7e9 + 86400.5, None, -1.5, 1e11, 0]) == [
                "2023-11-14 22:13:20", "2023-11-15 22:13:20", "", fmt_time(-1.5), fmt_time(1e11),
                "1970-01-01 00:00:00"]
            assert alone == [None, -1.5, 1e11]
            monkeypatch.setattr(textfmt, "fmt_time", fmt_time)
        rng = random.Random(zone)
        stamps: list = [rng.uniform(0, 2.2e9) for _ in range(5000)]
        stamps += [rng.randrange(0, 2_200_000_000) for _ in range(1000)]
        for year in (1970, 1971, 1972, 1998, 2011, 2016, 2024):  # every 97 s of each change's days
            start = time.mktime((year, 1, 1, 0, 0, 0, 0, 1, -1))
            days = [start + day * 86400 for day in range(366)]
            offsets = [time.localtime(day).tm_gmtoff for day in days]
            for day, before, after in zip(days, offsets, offsets[1:]):
                if before != after:
                    stamps += [day + 97 * k + 0.5 for k in range(2 * 86400 // 97)]
        stamps += [1_483_228_799.5, 1_483_228_800.0, 1_435_708_799.0,  # (around two leap seconds)
                   1_700_000_000.9999995, 1_700_000_000.9999994, 1_700_000_899.9999996, 0.0, 0,
                   None, -1.5, -86400, 1e11, 2 ** 35, 1_700_000_000]
        assert fmt_times(stamps) == [fmt_time(ts) for ts in stamps]
    finally:
        monkeypatch.undo()  # (TZ as it was, then the C library told)
        time.tzset()


def test_iso_follows_datetime_where_utc_counts_leap_seconds():
    """Under TZ=right/UTC the C library's UTC counts leap seconds: every time is then spelt
    by datetime, as before (never a mix of the two clocks)."""
    import os
    import subprocess
    import sys

    if not os.path.exists("/usr/share/zoneinfo/right/UTC"):
        pytest.skip("no right/UTC zone here")
    script = ("import datetime as d; from wandb_cli.store.model import iso\n"
              "for t in (1700000000.0, 1700000000, 1.5, 1_000_000_000.9995):\n"
              "    m = d.datetime.fromtimestamp(t, tz=d.timezone.utc)\n"
              "    print(iso(t) == m.isoformat(timespec='milliseconds').replace('+00:00', 'Z'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TZ": "right/UTC"}, check=True)
    assert done.stdout.split() == ["True"] * 4



@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=8, max_value=260), st.booleans(), st.booleans())
def test_columns_left_unmade_for_a_width_are_those_fit_hides(width, named, sorted_by):
    """run_columns(width=) leaves unmade only columns fit() would hide: the table, its
    widths and its footer are the same as when every column is made."""
    runs = [run(f"r{i}", name="a-rather-long-run-name-" * (i % 3 + 1), tags=["t"] * (i % 2),
                group=f"g{i % 2}", ended=1_790_000_000.0 + 61 * i,
                config={"lr": 0.1 * i}, summary={"loss": 1.5 / (i + 1), "acc": i / 7, "note": "x" * i})
            for i in range(6)]
    keys = ["name", "summary.loss", "config.lr", "tags", "id", "runtime"] if named else None
    sort = ["-acc"] if sorted_by else []
    every = fit(runs_table.run_columns(runs, columns=keys, sort=sort), width)
    some = runs_table.run_columns(runs, columns=keys, sort=sort, width=width)
    lean = fit(some, width)
    assert (lean.headers, lean.rows(), lean.widths, lean.footer()) == \
        (every.headers, every.rows(), every.widths, every.footer())
    assert {c.key for c in some if c.unmade} <= {c.key for c in every.hidden}
    if width < 40:
        assert any(c.unmade for c in some)  # (narrow: some column was not made at all)


@pytest.mark.parametrize("key", ["lr", "summary.", "`x"])
def test_a_bad_columns_key_is_an_error_at_any_width(key):
    """A column left unmade for a narrow table still has its key checked (ambiguous,
    malformed), as every column is when made."""
    runs = [run("a", config={"lr": 0.1}, summary={"lr": 0.5})]
    with pytest.raises(UsageError):
        runs_table.run_columns(runs, columns=["id", "name", key])
    with pytest.raises(UsageError):
        runs_table.run_columns(runs, columns=["id", "name", key], width=4)
