"""`wbrun runs ls / compare / show / logs` through the real entry point, on real stores.

Stores are made in-process with the recorder and a fixed clock (deterministic runtimes), or
by real `wbrun -- python -c ...` runs.  Golden tables mask run IDs and times with regexes;
set WBRUN_UPDATE_GOLDEN=1 to rewrite them after a deliberate change.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import helpers
import pytest
from conftest import wbrun_cmd
from helpers import Clock

from wandb_cli.cli import main
from wandb_cli.store.layout import Store

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_790_000_000.0  # 2026-09-21
LONG_NAME = "a-rather-long-experiment-name-for-checking-how-names-are-cropped"
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def record_run(root: Path, name: str, *, start: float, seconds: float = 90, project="vision",
               config=None, metrics=(), state="finished", tags=(), group=None,
               run_id: str | None = None) -> str:
    """One run written by the recorder with a fixed clock; `state` running leaves it live."""
    return helpers.record_run(root, clock=Clock(start), seconds=seconds, metrics=metrics, state=state,
                              project=project, name=name, config=dict(config or {}), tags=list(tags),
                              group=group, id=run_id)


def losses(first: float, n: int = 4) -> list[dict]:
    return [{"loss": round(first / (i + 1), 4), "acc": round(0.5 + i / 10, 2)} for i in range(n)]


@pytest.fixture
def demo(store_dir) -> dict[str, str]:
    """Six runs in two projects, oldest first; returns name -> id."""
    made = {}
    runs = [
        ("baseline", dict(config={"lr": 0.1, "opt": "adam"}, metrics=losses(1.0),
                          tags=["baseline"], seconds=95)),
        ("small-lr", dict(config={"lr": 0.01, "opt": "adam"}, metrics=losses(1.4), seconds=150)),
        ("sgd-momentum", dict(config={"lr": 0.1, "opt": "sgd"}, metrics=losses(2.0)[:2],
                              state="failed", seconds=61, group="sweep")),
        ("big-batch", dict(config={"lr": 0.05, "opt": "sgd", "batch": 512},
                           metrics=losses(0.8), state="killed", seconds=3700, group="sweep")),
        (LONG_NAME, dict(config={"lr": 0.02}, metrics=losses(0.9), seconds=400)),
        ("bert-tiny", dict(project="nlp", config={"lr": 0.001},
                           metrics=[{"val_loss": 2.5}, {"val_loss": 1.25}], seconds=30)),
    ]
    for index, (name, options) in enumerate(runs):
        # fixed IDs: a random one could match the --search patterns the tests use
        made[name] = record_run(store_dir, name, start=T0 + index * 100,
                                run_id=f"q{index}zzzzzz", **options)
    return made


@pytest.fixture
def cli(capfd):
    """The same entry point in this process (no interpreter start-up): (stdout, stderr)."""
    def call(*args: str, code: int = 0, columns: int | None = None) -> tuple[str, str]:
        os.environ["COLUMNS"] = str(columns or 120)  # the autouse fixture restores it
        capfd.readouterr()
        try:
            main(list(args))
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        sys.stdout.flush()
        out, err = capfd.readouterr()
        assert status == code, (out, err)
        return out, err
    return call


def masked(text: str, ids) -> str:
    text = re.sub("|".join(map(re.escape, ids)), "IDxxxxxx", text)
    text = TIME.sub("YYYY-MM-DD hh:mm:ss", text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("WBRUN_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


def ls(wbrun, *args, columns: int | None = None, code: int = 0):
    env = {"COLUMNS": str(columns)} if columns else None
    return wbrun("runs", "ls", *args, env=env, check_code=code)


def widths(text: str) -> list[int]:
    return [len(line.rstrip()) for line in text.splitlines()]


# -- the table (real subprocesses: golden output at fixed widths) --------------------------
def test_golden_table_at_120(wbrun, demo):
    result = ls(wbrun, columns=120)
    check_golden("runs_ls_120.txt", masked(result.stdout, demo.values()))
    assert max(widths(result.stdout)) <= 120 and result.stderr == ""


def test_narrow_terminal_drops_columns_and_says_how_many(wbrun, demo):
    narrow, wide = ls(wbrun, columns=60).stdout, ls(wbrun, columns=200).stdout
    check_golden("runs_ls_60.txt", masked(narrow, demo.values()))
    assert max(widths(narrow)) <= 60 and max(widths(wide)) <= 200
    wide_headers = wide.splitlines()[0].split()
    narrow_headers = narrow.splitlines()[0].split()
    assert wide_headers == ["id", "name", "state", "project", "group", "tags", "created",
                            "runtime", "acc", "loss", "val_loss"]
    hidden = [h for h in wide_headers if h not in narrow_headers]
    footer = narrow.splitlines()[-1]
    assert footer.startswith(f"{len(hidden)} columns hidden (see --columns): ")
    assert "hidden" not in wide and LONG_NAME in wide  # room enough: nothing cut
    for name in ("baseline", "small-lr", "big-batch"):  # every run still one line
        assert sum(name in line for line in narrow.splitlines()) == 1


def test_golden_grouped_table(wbrun, demo):
    out = ls(wbrun, "--group-by", "config.opt", "--project", "vision", columns=120).stdout
    check_golden("runs_ls_group_120.txt", masked(out, demo.values()))


@pytest.mark.parametrize("mode, pattern", [
    ("start", r"^…[\w-]*-are-cropped$"), ("middle", r"^a-rather-[\w-]*…[\w-]*cropped$"),
    ("end", r"^a-rather-long-[\w-]*…$"),
])
def test_crop_modes(cli, demo, mode, pattern):
    out, _ = cli("runs", "ls", "--columns", "name,state", "--crop", mode, "--search", "rather",
                 columns=40)
    cell = out.splitlines()[2].split()[0]
    assert re.match(pattern, cell), cell
    assert len(cell) == 40 - len("   finished")  # the name takes what the state leaves


def test_bad_crop_mode_is_a_usage_error(cli, demo):
    assert "bad --crop 'left'" in cli("runs", "ls", "--crop", "left", code=2)[1]


def test_columns_option_picks_and_orders_columns(cli, demo):
    out, _ = cli("runs", "ls", "--columns", "name,config.lr,summary.loss,opt", "--project",
                 "vision", "--sort", "-summary.loss")
    lines = out.splitlines()
    assert lines[0].split() == ["name", "config.lr", "summary.loss", "opt"]
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows][:3] == ["sgd-momentum", "small-lr", "baseline"]
    assert rows[0] == ["sgd-momentum", "0.1", "1", "sgd"]


def test_sort_key_becomes_a_column_and_missing_values_sort_last(cli, demo):
    runs = json.loads(cli("runs", "ls", "--sort", "-config.batch", "-f", "json")[0])
    assert runs[0]["name"] == "big-batch"
    header = cli("runs", "ls", "--sort", "-config.batch", columns=200)[0].splitlines()[0]
    assert header.split()[:4] == ["id", "name", "state", "config.batch"]
    runs = json.loads(cli("runs", "ls", "--sort", "-summary.acc", "-f", "json")[0])
    descending = [r["summary"].get("acc") for r in runs]
    assert descending == sorted(descending[:5], reverse=True) + [None]


# -- choosing runs -------------------------------------------------------------------------
def test_search_state_project_and_limit_combine(cli, demo):
    def names(*args):
        return [r["name"] for r in json.loads(cli("runs", "ls", "-f", "json", *args)[0])]

    assert names("--search", "^B") == ["bert-tiny", "big-batch", "baseline"]
    assert names("--search", demo["small-lr"][:6]) == ["small-lr"]
    assert names("--state", "failed") == ["sgd-momentum"]
    assert names("--project", "nlp") == ["bert-tiny"]
    both = names("--project", "vision", "--filter", "config.opt = sgd", "--state", "killed")
    assert both == ["big-batch"]
    out, err = cli("runs", "ls", "--limit", "2", "--project", "vision")
    assert len(out.splitlines()) == 4
    assert err == "wbrun: showing 2 of 5 runs (--limit 2; raise it to see more)\n"
    out, err = cli("runs", "ls", "--limit", "2", "--format", "json")
    assert len(json.loads(out)) == 2 and err == ""
    assert cli("runs", "ls", "--limit", "9")[1] == ""


def test_bad_filter_shows_a_caret_and_exits_2(wbrun, demo):
    result = ls(wbrun, "--filter", "lr > 0.1 and (loss <", code=2)
    first, expr, caret = result.stderr.splitlines()
    assert first.startswith("wbrun: error: bad filter: ") and "position 20" in first
    assert expr == "  lr > 0.1 and (loss <"
    assert caret == " " * 22 + "^" and result.stdout == ""


def test_ambiguous_bare_key_exits_2(cli, store_dir):
    record_run(store_dir, "one", start=T0, config={"lr": 0.1})
    record_run(store_dir, "two", start=T0 + 1, metrics=[{"lr": 0.05}])
    for args in (["--filter", "lr > 0"], ["--columns", "name,lr"], ["--sort", "lr"],
                 ["--group-by", "lr"]):
        err = cli("runs", "ls", *args, code=2)[1]
        assert "'lr' is both a summary metric and a config key" in err, args
    assert cli("runs", "ls", "--columns", "name,config.lr,summary.lr")[0].count("0.") == 2


def test_bad_state_is_a_usage_error(cli, demo):
    assert "bad --state 'done'" in cli("runs", "ls", "--state", "done", code=2)[1]


def test_deleted_lists_the_trash(cli, store_dir):
    from wandb_cli.store.lifecycle import delete_run

    kept = record_run(store_dir, "kept", start=T0, metrics=[{"loss": 1}])
    gone = record_run(store_dir, "gone", start=T0 + 1, metrics=[{"loss": 2}])
    store = Store(store_dir)
    delete_run(store, store.find(gone))
    assert [r["id"] for r in json.loads(cli("runs", "ls", "-f", "json")[0])] == [kept]
    trash = cli("runs", "ls", "--deleted", "--columns", "name,loss")[0].splitlines()
    assert [line.split() for line in trash[2:]] == [["gone", "2"]]


# -- formats -------------------------------------------------------------------------------
def test_every_format_parses_back(wbrun, demo):
    records = json.loads(ls(wbrun, "--format", "json").stdout)
    assert [r["name"] for r in records][:2] == ["bert-tiny", LONG_NAME]
    assert {r["id"] for r in records} == set(demo.values())
    assert records[-1]["config"] == {"lr": 0.1, "opt": "adam"}
    assert records[-1]["summary"]["loss"] == 0.25 and records[-1]["runtime"] == 95
    lines = ls(wbrun, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == records
    ids = ls(wbrun, "--format", "ids").stdout
    assert ids == "".join(r["id"] + "\n" for r in records)
    table = list(csv.DictReader(io.StringIO(ls(
        wbrun, "--format", "csv", "--columns", "id,name,config.lr,summary.loss,created").stdout)))
    assert [row["id"] for row in table] == [r["id"] for r in records]
    assert list(table[0]) == ["id", "name", "config.lr", "summary.loss", "created"]
    assert [row["config.lr"] for row in table] == [str(r["config"]["lr"]) for r in records]
    assert table[0]["summary.loss"] == "" and table[-1]["created"] == records[-1]["created"]


def test_default_csv_has_the_default_columns(cli, demo):
    rows = list(csv.reader(io.StringIO(cli("runs", "ls", "--format", "csv")[0])))
    assert rows[0] == ["id", "name", "state", "project", "group", "tags", "created", "runtime",
                       "summary.acc", "summary.loss", "summary.val_loss"]
    baseline = rows[-1]
    assert baseline[1] == "baseline" and float(baseline[7]) == 95.0
    assert json.loads(baseline[5]) == ["baseline"] and len(rows) == 7


def test_empty_store_lists_nothing(cli):
    assert cli("runs", "ls") == ("", "wbrun: no runs to list\n")
    assert json.loads(cli("runs", "ls", "--format", "json")[0]) == []


@pytest.mark.parametrize("command", [["runs", "ls"], ["runs", "ls", "--format", "ids"],
                                     ["runs", "show", "x"], ["runs", "history", "x"],
                                     ["runs", "tag", "x", "t"], ["doctor"]])
def test_a_store_path_that_is_no_folder_is_a_one_line_error(cli, tmp_path, monkeypatch, command):
    """--dir (or WBRUN_DIR) naming a file, or a path through one: one line, exit 1, the
    file untouched (it was "internal error: NotADirectoryError")."""
    afile = tmp_path / "afile"
    afile.write_text("data")
    assert cli(*command, "--dir", str(afile), code=1) == (
        "", f"wbrun: error: the store {afile} is not a directory\n")
    monkeypatch.setenv("WBRUN_DIR", str(afile / "sub"))
    assert cli(*command, code=1) == (
        "", f"wbrun: error: cannot open the store {afile / 'sub'}: Not a directory\n")
    assert afile.read_text() == "data"


def test_user_text_is_shown_literally(cli, store_dir):
    record_run(store_dir, "[bold]x\x1b[31m", start=T0, metrics=[{"loss": 1}])
    out = cli("runs", "ls", "--columns", "name,loss")[0]
    assert "[bold]x\\x1b[31m" in out and "\x1b" not in out


# -- grouping ------------------------------------------------------------------------------
GROUP_SPECS = [  # (opt, group, loss, acc)
    ("adam", "a", 0.5, 0.9), ("adam", "a", 0.7, 0.8), ("adam", "b", 0.4, 0.95),
    ("sgd", "a", 1.2, 0.6), ("sgd", "b", 0.9, 0.7), (None, "b", 2.0, 0.5),
]


@pytest.fixture(scope="module")
def grouped(tmp_path_factory) -> str:
    """A store of real `wbrun -c ... -g ... -- python -c` runs, started together; each
    prints its metrics as key=value.  Returns the store root (for --dir)."""
    root = str(tmp_path_factory.mktemp("grouped") / "wandb")
    procs = []
    for opt, group, loss, acc in GROUP_SPECS:
        options = [*(["-c", f"opt={opt}"] if opt else []), "-c", f"lr={loss / 10}", "-g", group]
        command = wbrun_cmd("-q", "--dir", root, "-p", "grp", *options, "--", sys.executable,
                            "-c", f"print('loss={loss} acc={acc}')")
        procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE))
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    return root


def test_group_by_aggregates_match_independent_statistics(wbrun, grouped):
    groups = json.loads(ls(wbrun, "--dir", grouped, "--group-by", "config.opt",
                           "--format", "json").stdout)
    assert [g["group"] for g in groups] == [{"config.opt": "adam"}, {"config.opt": "sgd"},
                                            {"config.opt": None}]
    for group in groups:
        rows = [s for s in GROUP_SPECS if s[0] == group["group"]["config.opt"]]
        assert group["count"] == len(rows) and group["states"] == {"finished": len(rows)}
        for key, column in (("summary.loss", 2), ("summary.acc", 3)):
            values = [row[column] for row in rows]
            stats = group["stats"][key]
            assert stats["n"] == len(values)
            assert math.isclose(stats["mean"], statistics.mean(values))
            assert (stats["min"], stats["max"]) == (min(values), max(values))
            expected_std = statistics.stdev(values) if len(values) > 1 else None
            assert stats["std"] == pytest.approx(expected_std)
        assert sum(group["histogram"]) == len(rows) and len(group["runs"]) == len(rows)


def test_group_by_two_keys_table_and_csv(cli, grouped):
    out, _ = cli("runs", "ls", "--dir", grouped, "--group-by", "config.opt", "--group-by",
                 "group", "--sort", "-loss", "--columns", "loss,acc", columns=100)
    lines = out.splitlines()
    assert lines[0].split() == ["config.opt", "group", "runs", "states", "loss", "acc",
                                "loss", "dist"]
    first = lines[2].split()
    assert first[:5] == ["(none)", "b", "1", "1", "finished"] and first[5] == "2"
    sgd_a = next(line for line in lines if line.split()[:2] == ["sgd", "a"])
    assert "1.2" in sgd_a.split()
    adam_a = next(line for line in lines if line.split()[:2] == ["adam", "a"])
    assert "0.6 (0.5–0.7)" in adam_a and "0.85 (0.8–0.9)" in adam_a
    std = cli("runs", "ls", "--dir", grouped, "--group-by", "config.opt", "--std",
              "--columns", "loss")[0]
    adam = [0.5, 0.7, 0.4]
    assert f"{statistics.mean(adam):.4g} ± {statistics.stdev(adam):.4g}" in std
    rows = list(csv.DictReader(io.StringIO(cli(
        "runs", "ls", "--dir", grouped, "--group-by", "config.opt", "--columns", "loss",
        "--format", "csv")[0])))
    assert [(r["config.opt"], r["count"], r["state.finished"]) for r in rows] == [
        ("adam", "3", "3"), ("sgd", "2", "2"), ("", "1", "1")]
    assert float(rows[1]["loss.mean"]) == pytest.approx(statistics.mean([1.2, 0.9]))


def test_group_ids_and_jsonl(cli, grouped):
    ids = cli("runs", "ls", "--dir", grouped, "--group-by", "group", "-f", "ids")[0].split()
    by_id = {r["id"]: r for r in json.loads(cli("runs", "ls", "--dir", grouped, "-f", "json")[0])}
    assert sorted(ids) == sorted(by_id)
    assert [by_id[i]["group"] for i in ids] == ["a"] * 3 + ["b"] * 3
    lines = cli("runs", "ls", "--dir", grouped, "--group-by", "group", "-f", "jsonl")[0]
    assert [json.loads(line)["count"] for line in lines.splitlines()] == [3, 3]


# -- history sparklines --------------------------------------------------------------------
def test_spark_column_draws_each_runs_history(cli, store_dir):
    record_run(store_dir, "falling", start=T0, metrics=[{"loss": v} for v in (8, 4, 2, 1)])
    record_run(store_dir, "rising", start=T0 + 1, metrics=[{"loss": v} for v in (1, 2, 3)])
    record_run(store_dir, "none", start=T0 + 2, metrics=[{"acc": 1}])
    out = cli("runs", "ls", "--spark", "loss", "--columns", "name")[0]
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert out.splitlines()[0].split() == ["name", "loss", "history"]
    assert lines["falling"] == ["█▄▂▁"] and lines["rising"] == ["▁▄█"]
    assert lines["none"] == []
    rows = list(csv.DictReader(io.StringIO(cli("runs", "ls", "--spark", "loss", "--format",
                                               "csv", "--columns", "name")[0])))
    assert [r["loss history"] for r in rows] == ["", "▁▄█", "█▄▂▁"]


def test_spark_reads_history_only_when_asked(cli, store_dir):
    record_run(store_dir, "r", start=T0, metrics=[{"loss": 1}, {"loss": 2}])
    history = next(store_dir.glob("run-*/files/wandb-history.jsonl"))
    history.write_text("not json\n")  # reading it would warn on stderr
    assert cli("runs", "ls")[1] == ""
    assert "wandb-history.jsonl" in cli("runs", "ls", "--spark", "loss")[1]


# -- compare -------------------------------------------------------------------------------
def test_compare_json_puts_differing_keys_first(wbrun, demo):
    result = wbrun("runs", "compare", "baseline", "small-lr", demo["sgd-momentum"],
                   "--format", "json", check_code=0)
    data = json.loads(result.stdout)
    assert [r["name"] for r in data["runs"]] == ["baseline", "small-lr", "sgd-momentum"]
    keys = [(k["key"], k["differs"]) for k in data["keys"]]
    assert keys == [("config.lr", True), ("config.opt", True), ("summary.acc", True),
                    ("summary.loss", True)]
    two = json.loads(wbrun("runs", "compare", "baseline", "small-lr", "-f", "json",
                           check_code=0).stdout)
    assert [(k["key"], k["differs"]) for k in two["keys"]] == [
        ("config.lr", True), ("summary.loss", True), ("config.opt", False),
        ("summary.acc", False)]
    assert two["keys"][0]["values"] == [0.1, 0.01]


def test_compare_table_marks_differences(cli, demo):
    lines = cli("runs", "compare", "baseline", "small-lr")[0].splitlines()
    assert "baseline (" in lines[0] and "small-lr (" in lines[0]
    assert [line.split()[:2] for line in lines[2:]] == [
        ["≠", "config.lr"], ["≠", "summary.loss"], ["config.opt", "adam"], ["summary.acc", "0.8"]]


def test_compare_needs_two_runs(cli, demo):
    assert "at least two runs" in cli("runs", "compare", "baseline", code=2)[1]


# -- show and logs -------------------------------------------------------------------------
def test_show_has_sparklines_and_files(cli, demo):
    out = cli("runs", "show", "baseline")[0]
    history = out[out.index("History"):]
    loss = next(line for line in history.splitlines() if line.startswith("loss "))
    assert loss.split() == ["loss", "█▃▁▁", "0.25", "1", "0.25"]  # 1, .5, .33, .25
    assert re.search(r"wandb-history\.jsonl\s+\d+ B", out)
    assert "Config" in out and "Summary" in out


LIVE_PROGRAM = """
import os, sys, time
for i in range(3):
    print(f"line {i}", flush=True)
    time.sleep(0.1)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
for i in range(3, 6):
    print(f"line {i}", flush=True)
    time.sleep(0.15)
"""


def start_live_run(store_dir: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A real wrapped run that prints three lines, waits for the `go` file, prints three more."""
    go = tmp_path / "go"
    wrapper = subprocess.Popen(wbrun_cmd("-q", "--", sys.executable, "-c", LIVE_PROGRAM, str(go)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not list(store_dir.glob("run-*/files/output.log")):
        assert time.monotonic() < deadline and wrapper.poll() is None
        time.sleep(0.05)
    return wrapper, go


def test_logs_follow_streams_a_live_run_until_it_ends(store_dir, tmp_path, runs_json):
    wrapper, go = start_live_run(store_dir, tmp_path)
    follow = subprocess.Popen(wbrun_cmd("runs", "logs", "latest", "--follow"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert follow.stdout.readline() == "line 0\n"
    assert wrapper.poll() is None  # the first line arrived while the run was still live
    go.touch()
    rest = follow.stdout.read()  # to the end: follow has exited or closed its output
    assert follow.wait(timeout=30) == 0 and follow.stderr.read() == ""
    assert rest == "".join(f"line {i}\n" for i in range(1, 6))
    assert wrapper.wait(timeout=30) == 0
    assert runs_json()[0]["state"] == "finished"


def test_logs_follow_ctrl_c_exits_0_quietly(store_dir, tmp_path):
    wrapper, go = start_live_run(store_dir, tmp_path)
    follow = subprocess.Popen(wbrun_cmd("runs", "logs", "latest", "--follow"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follow.stdout.readline() == "line 0\n"
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=30) == 0 and follow.stderr.read() == ""
    finally:
        go.touch()
        wrapper.wait(timeout=30)


def test_logs_follow_of_an_ended_run_prints_it_and_returns(cli, store_dir):
    record_run(store_dir, "done", start=T0)
    run_dir = next(store_dir.glob("run-*"))
    (run_dir / "files" / "output.log").write_bytes(b"done=1\nno newline at the end")
    assert cli("runs", "logs", "done", "--follow") == ("done=1\nno newline at the end", "")


# -- help ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["ls", "show", "history", "logs", "system", "compare"])
def test_every_runs_command_has_a_summary_and_an_example(cli, command):
    assert "Example: wbrun runs " + command in cli("runs", command, "--help")[0]


def test_a_listing_whose_reader_left_ends_quietly(store_dir):
    """`runs ls` holds its records to the end and leaves them to the kernel to free
    (nogc.exit_holding); output still buffered then meets a closed pipe: exit 1 with no
    traceback, as when a reader of `runs ls | head` leaves."""
    helpers.record_runs(store_dir, ["gone1", "gone2"])
    proc = subprocess.Popen(wbrun_cmd("runs", "ls", "--format", "json", "--dir", str(store_dir)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before anything is written: the listing's one flush fails
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""


def test_a_listing_with_stdout_closed_ends_as_before(store_dir):
    """stdout closed when wbrun starts (sys.stdout is None): no runs to list still exits 0."""
    done = subprocess.run(" ".join(wbrun_cmd("runs", "ls", "--project", "none", "--dir",
                                             str(store_dir))) + " >&-",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "wbrun: no runs to list\n")


def test_exit_holding_flushes_both_streams_and_keeps_the_status():
    """It ends the process as an ordinary exit would, exit handlers (coverage's) included,
    only without freeing what is held."""
    script = ("import atexit, sys; from wandb_cli import nogc\n"
              "nogc.exit_holding(5)\n"  # nothing held: an ordinary return
              "atexit.register(lambda: print('handler ran', end=''))\n"
              "print('o' * 100000, end=''); print('e' * 5000, end='', file=sys.stderr)\n"
              "nogc.hold_until_exit([object()] * 10)\n"
              "nogc.exit_holding(3)\n"
              "raise SystemExit('not reached')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == \
        (3, b"o" * 100000 + b"handler ran", b"e" * 5000)


def test_a_listing_run_inside_a_process_returns_and_holds_nothing(store_dir):
    """Only the program's own main() ends the process early (nogc.exit_holding): called
    with arguments, from a test or an embedding, `runs ls` returns and keeps nothing."""
    from wandb_cli import nogc

    helpers.record_runs(store_dir, ["inproc1"])
    with pytest.raises(SystemExit) as done:
        main(["runs", "ls", "--format", "ids", "--dir", str(store_dir)])
    assert done.value.code == 0 and nogc._HELD == []


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "ids"])
def test_a_listing_as_the_program_ends_once_its_output_is_written(store_dir, fmt):
    """`runs ls` declares its output its last act (nogc.end_at_output): as the program it
    ends inside the writer, status 0, exit handlers run, output whole; nothing after the
    writer runs (the structures built for the output are never freed one by one)."""
    helpers.record_runs(store_dir, ["early1", "early2"])
    script = ("import atexit, sys\n"
              "from wandb_cli.views import listing\n"
              "real = listing.print_runs\n"
              "def spy(*a, **k):\n"
              "    real(*a, **k)\n"
              "    print('returned', file=sys.stderr)\n"
              "listing.print_runs = spy\n"
              "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
              "from wandb_cli.cli import main\n"
              f"sys.argv = ['wbrun', 'runs', 'ls', '--format', {fmt!r}, '--dir', {str(store_dir)!r}]\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert (done.returncode, done.stderr) == (0, "handler ran\n")
    assert "early1" in done.stdout and "early2" in done.stdout
    with pytest.raises(SystemExit) as returned:  # (called with arguments: it returns)
        main(["runs", "ls", "--format", fmt, "--dir", str(store_dir)])
    from wandb_cli import nogc

    assert returned.value.code == 0 and not nogc._ENDS_AT_OUTPUT


def test_json_listing_ends_with_one_newline_on_either_path(store_dir):
    """The indented JSON is written, then its newline apart (no copy of the whole output),
    on the fast path and on the faithful one a NaN takes."""
    helpers.record_runs(store_dir, ["plain1"])
    out = subprocess.run(wbrun_cmd("runs", "ls", "--format", "json", "--dir", str(store_dir)),
                         capture_output=True, timeout=60, check=True).stdout
    assert out.endswith(b"\n]\n") and json.loads(out)[0]["id"] == "plain1"
    helpers.record_run(store_dir, id="nanrun2", metrics=[{"loss": float("nan")}])
    out = subprocess.run(wbrun_cmd("runs", "ls", "--format", "json", "--dir", str(store_dir)),
                         capture_output=True, timeout=60, check=True).stdout
    assert out.endswith(b"]\n") and not out.endswith(b"]\n\n") and b"NaN" in out
