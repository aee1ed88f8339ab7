"""`wbrun ui`'s JSON API and safety, against a real `wbrun ui` server (uvicorn on a free
port) over a store made by real `wbrun` runs."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers_ui import HOSTILE, UiServer, make_store, run_wbrun, wbrun_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui") / "wandb"
    ids = make_store(root)
    outside = root.parent / "secret.txt"
    outside.write_text("top secret")
    spike_dir = Path(json.loads(run_wbrun(root, "runs", "show", ids["spike"], "--format", "json").stdout)["dir"])
    (spike_dir / "files" / "leak.txt").symlink_to(outside)
    (spike_dir / "files" / "page.html").write_text("<script>alert(1)</script>")
    return root, ids


@pytest.fixture(scope="module")
def server(store):
    root, _ids = store
    srv = UiServer(root)
    yield srv
    assert srv.stop() == 0


def runs_ls(root: Path, *args: str) -> list[dict]:
    return json.loads(run_wbrun(root, "runs", "ls", "--format", "json", *args).stdout)


def test_prints_url_on_loopback_and_lists_projects(server, store):
    assert server.url.startswith("http://127.0.0.1:") and "token" not in server.url
    status, projects = server.json("/api/projects")
    assert status == 200
    by_name = {p["name"]: p for p in projects}
    assert by_name["mnist"]["runs"] == 4 and by_name["cifar"]["runs"] == 1
    assert by_name["mnist"]["states"] == {"finished": 4}
    assert by_name["mnist"]["last_activity"].endswith("Z")


def test_runs_filter_sort_and_paging_agree_with_runs_ls(server, store):
    root, _ids = store
    query = "/api/runs?project=mnist&filter=" + quote("config.opt = 'adam'") + "&sort=-config.lr"
    status, page = server.json(query)
    assert status == 200
    expected = runs_ls(root, "--project", "mnist", "--filter", "config.opt = 'adam'", "--sort", "-config.lr")
    assert [r["id"] for r in page["rows"]] == [r["id"] for r in expected]
    assert page["total"] == 2 and "config.lr" in page["columns"]
    assert page["rows"][0]["cells"]["config.lr"] == 0.05
    status, paged = server.json("/api/runs?project=mnist&limit=1&offset=1")
    everything = runs_ls(root, "--project", "mnist")
    assert paged["total"] == 4 and [r["id"] for r in paged["rows"]] == [everything[1]["id"]]
    status, searched = server.json("/api/runs?search=" + quote("^adam-"))
    assert sorted(r["name"] for r in searched["rows"]) == ["adam-big", "adam-small"]
    status, chosen = server.json("/api/runs?project=mnist&columns=id,summary.loss,config.opt")
    assert chosen["columns"] == ["id", "summary.loss", "config.opt"]
    assert set(chosen["rows"][0]["cells"]) == {"id", "summary.loss", "config.opt"}


def test_group_by_matches_runs_ls_groups(server, store):
    root, _ids = store
    status, page = server.json("/api/runs?project=mnist&group_by=config.opt")
    assert status == 200
    cli = json.loads(run_wbrun(root, "runs", "ls", "--project", "mnist", "--group-by", "config.opt",
                               "--format", "json").stdout)
    ours = {json.dumps(g["group"]): (g["count"], sorted(g["runs"])) for g in page["groups"]}
    theirs = {json.dumps(g["group"]): (g["count"], sorted(g["runs"])) for g in cli}
    assert ours == theirs and len(ours) == 2


@pytest.mark.parametrize("query, fragment", [
    ("filter=" + quote("loss <"), "expected"),
    ("filter=" + quote("config.lr = = 1"), ""),
    ("search=" + quote("(unclosed"), "regex"),
    ("limit=-1", "limit"),
    ("limit=abc", "limit"),
    ("state=sleeping", "state"),
])
def test_bad_queries_answer_400_json(server, query, fragment):
    status, headers, data = server.request("GET", "/api/runs?" + query)
    assert status == 400 and headers["content-type"] == "application/json"
    body = json.loads(data)
    assert fragment in body["error"] and "Traceback" not in data.decode()


def test_bad_filter_carries_the_caret(server):
    status, body = server.json("/api/runs?filter=" + quote("loss < "))
    assert status == 400 and body["pos"] == 7 and body["expr"] == "loss < "
    assert body["text"].splitlines()[-1].strip() == "^"


@pytest.mark.parametrize("path", [
    "/api/runs/nosuchid", "/api/runs/..", "/api/runs/%2e%2e/history", "/api/runs/ab%00cd",
    "/api/runs/" + "x" * 300, "/api/nothing", "/runs/../../etc/passwd/x",
])
def test_bad_ids_and_paths_answer_404_json(server, path):
    status, headers, data = server.request("GET", path)
    assert status in (404, 400), (path, status)
    assert headers["content-type"] == "application/json" and "Traceback" not in data.decode()


def test_run_detail_has_the_overview_facts(server, store):
    _root, ids = store
    status, run = server.json(f"/api/runs/{ids['hostile']}")
    assert status == 200
    assert run["name"] == HOSTILE and run["project"] == "cifar"
    assert run["config"] == {"lr": 0.03, "opt": "adam"}
    meta = run["metadata"]
    assert meta["python"] and meta["os"] and meta["host"] and meta["wbrun_version"]
    assert {"loss", "acc"} <= set(run["history_keys"])
    assert "output.log" in {f["path"] for f in run["files"]}
    assert run["artifacts"] == {"inputs": [], "outputs": []}


def test_a_damaged_artifact_manifest_leaves_run_pages_and_the_public_api_whole(tmp_path):
    """One artifact version's manifest that cannot be read (here without its fields) cannot
    say whose it is: every run's artifacts are listed without it, by the UI's API and by
    the public API alike."""
    root = tmp_path / "wandb"
    data = tmp_path / "weights.bin"
    data.write_bytes(b"w" * 10)
    run_wbrun(root, "-q", "--id", "uiart001", "--no-system", "--", sys.executable, "-m", "wandb_cli",
              "artifact", "log", str(data), "--name", "model")
    run_wbrun(root, "artifact", "log", str(data), "--name", "broken")
    (root / ".wbrun" / "artifacts" / "names" / "broken" / "v0.json").write_text('{"name": "broken"}')
    srv = UiServer(root)
    try:
        status, run = srv.json("/api/runs/uiart001")
        assert status == 200 and [a["ref"] for a in run["artifacts"]["outputs"]] == ["model:v0"]
    finally:
        assert srv.stop() == 0
    script = "import wandb_cli\nprint([a.name for a in wandb_cli.Api().run('uiart001').logged_artifacts()])"
    public = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=wbrun_env(root), cwd=root.parent, timeout=60)
    assert public.returncode == 0 and public.stdout == "['model:v0']\n", public.stderr


def test_an_integer_past_64_bits_in_a_summary_leaves_the_listing_whole(tmp_path):
    """A FLOPs counter of 2**70: orjson refuses it, and the whole workspace table answered
    500; now it is a float, as JavaScript would read it anyway."""
    root = tmp_path / "wandb"
    run_wbrun(root, "-q", "--id", "uibigint", "--no-system", "--", sys.executable, "-c",
              "print(f'flops={2**70}')")
    srv = UiServer(root)
    try:
        status, runs = srv.json("/api/runs")
        assert status == 200 and [row["id"] for row in runs["rows"]] == ["uibigint"]
        assert runs["rows"][0]["cells"]["summary.flops"] == float(2**70)
        status, run = srv.json("/api/runs/uibigint")
        assert status == 200 and run["summary"]["flops"] == float(2**70)
    finally:
        assert srv.stop() == 0


def test_history_keeps_the_spike_when_downsampled(server, store):
    _root, ids = store
    status, answer = server.json(f"/api/runs/{ids['spike']}/history?keys=loss&max_points=200")
    assert status == 200
    loss = answer["series"]["loss"]
    assert loss["count"] == 5000 and loss["sampled"] and len(loss["x"]) <= 200
    assert max(loss["y"]) >= 50 and loss["x"][loss["y"].index(max(loss["y"]))] == 3217
    assert loss["x"] == sorted(loss["x"])
    status, later = server.json(f"/api/runs/{ids['spike']}/history?keys=loss&after_step=4990")
    assert later["series"]["loss"]["x"] == [float(s) for s in range(4991, 5000)]
    status, by_time = server.json(f"/api/runs/{ids['a']}/history?x=_runtime&keys=acc")
    assert by_time["x"] == "_runtime" and by_time["series"]["acc"]["count"] == 300


def test_history_full_download_and_bad_max_points(server, store):
    _root, ids = store
    status, headers, data = server.request("GET", f"/api/runs/{ids['a']}/history?format=csv")
    assert status == 200 and "attachment" in headers["content-disposition"]
    lines = data.decode().splitlines()
    assert len(lines) == 301 and lines[0].startswith("_step,")
    status, body = server.json(f"/api/runs/{ids['a']}/history?max_points=3")
    assert status == 400 and "max_points" in body["error"]


def test_system_series_have_wandb_titles(server, store):
    _root, ids = store
    status, answer = server.json(f"/api/runs/{ids['spike']}/system")
    assert status == 200 and answer["x"] == "_runtime"
    if "system.cpu" in answer["keys"]:
        assert answer["titles"]["system.cpu"].startswith("CPU Utilization (%)")


def test_logs_keep_colours_and_drop_other_escapes(server, store):
    _root, ids = store
    status, chunk = server.json(f"/api/runs/{ids['a']}/logs")
    assert status == 200 and not chunk["more"]
    flat = [seg for line in chunk["lines"] for seg in line]
    assert ["step 0", "ansi-fg2"] in flat
    assert all("\x1b" not in text and "\x07" not in text for text, _cls in flat)
    assert any(text == " ok" for text, _cls in flat)
    status, rest = server.json(f"/api/runs/{ids['a']}/logs?offset={chunk['next_offset']}")
    assert rest["lines"] == [] and rest["next_offset"] == chunk["next_offset"]


@pytest.mark.parametrize("path", [
    "../wbrun-run.json", "%2e%2e/%2e%2e/secret.txt", "..%2f..%2fsecret.txt", "%2e%2e%2f%2e%2e%2fsecret.txt",
    "/etc/passwd", "%2fetc%2fpasswd", "leak.txt", "./output.log", "files/../../secret.txt",
])
def test_downloads_never_leave_the_run_folder(server, store, path):
    _root, ids = store
    status, headers, data = server.request("GET", f"/api/runs/{ids['spike']}/files/{path}")
    assert status == 404, (path, status)
    assert b"top secret" not in data and b"root:" not in data


def test_downloads_inside_are_served_as_attachments(server, store):
    _root, ids = store
    status, headers, data = server.request("GET", f"/api/runs/{ids['spike']}/files/output.log")
    assert status == 200 and b"loss=" in data
    status, headers, data = server.request("GET", f"/api/runs/{ids['spike']}/files/page.html")
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert "attachment" in headers["content-disposition"] and "sandbox" in headers["content-security-policy"]
    status, listing = server.json(f"/api/runs/{ids['spike']}/files")
    assert "leak.txt" not in {f["path"] for f in listing}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", ""])
def test_foreign_host_headers_are_refused(server, host):
    status, _headers, data = server.request("GET", "/api/projects", headers={"Host": host or None})
    assert status == 400 and (b"Host" in data or not host)  # no Host at all: uvicorn refuses it


def test_localhost_host_header_is_accepted(server):
    status, _h, _d = server.request("GET", "/api/projects", headers={"Host": f"localhost:{server.port}"})
    assert status == 200


def test_pages_carry_no_inline_script_and_a_strict_policy(server):
    status, headers, page = server.request("GET", "/projects/mnist")
    assert status == 200 and "script-src 'self'" in headers["content-security-policy"]
    assert b"<script>" not in page and b"onerror" not in page


def test_actions_need_the_csrf_token_and_agree_with_runs_ls(server, store):
    root, ids = store
    run = ids["b"]
    status, body = server.post(f"/api/runs/{run}/tag", {"tags": ["best"]}, csrf=None)
    assert status == 403 and "CSRF" in body["error"]
    status, body = server.post(f"/api/runs/{run}/tag", {"tags": ["best"]}, csrf="wrong")
    assert status == 403
    token = server.csrf()
    assert server.post(f"/api/runs/{run}/tag", {"tags": ["best", "v2"]}, csrf=token) == \
        (200, {"ok": True, "tags": ["best", "v2"]})
    assert server.post(f"/api/runs/{run}/untag", {"tags": ["v2"]}, csrf=token)[0] == 200
    assert server.post(f"/api/runs/{run}/notes", {"notes": "<b>bold?</b>"}, csrf=token)[0] == 200
    assert server.post(f"/api/runs/{run}/rename", {"name": "renamed"}, csrf=token)[0] == 200
    listed = {r["id"]: r for r in runs_ls(root)}[run]
    assert listed["tags"] == ["best"] and listed["notes"] == "<b>bold?</b>" and listed["name"] == "renamed"
    status, body = server.post(f"/api/runs/{run}/tag", {"tags": ["bad tag!"]}, csrf=token)
    assert status == 400 and "bad tag" in body["error"]
    status, body = server.post(f"/api/runs/{run}/explode", {}, csrf=token)
    assert status == 404
    status, _h, _d = server.request("GET", f"/api/runs/{run}/tag")
    assert status in (404, 405)


def test_delete_and_restore_through_the_trash(server, store):
    root, ids = store
    token = server.csrf()
    run = ids["c"]
    assert server.post(f"/api/runs/{run}/delete", {}, csrf=token)[0] == 200
    assert run not in {r["id"] for r in runs_ls(root)}
    assert run in {r["id"] for r in runs_ls(root, "--deleted")}
    assert server.json(f"/api/runs/{run}")[0] == 404
    assert server.post(f"/api/runs/{run}/restore", {}, csrf=token)[0] == 200
    assert run in {r["id"] for r in runs_ls(root)}


def test_read_only_server_refuses_actions(store):
    root, ids = store
    with UiServer(root, "--read-only") as srv:
        assert srv.line.rstrip().endswith("(read-only)")
        token = srv.csrf()
        status, body = srv.post(f"/api/runs/{ids['a']}/tag", {"tags": ["x"]}, csrf=token)
        assert status == 403 and "read-only" in body["error"]
        assert srv.json("/api/projects")[0] == 200
    assert runs_ls(root, "--filter", "tags = x") == []


def test_other_hosts_need_the_token(store):
    root, _ids = store
    with UiServer(root, "--host", "0.0.0.0") as srv:
        assert "?token=" in srv.url
        token = srv.url.split("?token=")[1]
        status, _h, data = srv.request("GET", "/api/projects")
        assert status == 401 and b"token" in data
        status, _h, _d = srv.request("GET", "/api/projects?token=wrong")
        assert status == 401
        status, headers, _d = srv.request("GET", f"/?token={token}")
        assert status == 200 and f"wbrun_token={token}" in headers["set-cookie"]
        assert "HttpOnly" in headers["set-cookie"]
        status, _h, _d = srv.request("GET", "/api/projects", headers={"Cookie": f"wbrun_token={token}"})
        assert status == 200
        status, _h, _d = srv.request("GET", "/static/app.css", headers={"Cookie": "wbrun_token=nope"})
        assert status == 401


def test_port_in_use_is_one_line_and_exit_1(store):
    root, _ids = store
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_wbrun(root, "ui", "--port", str(port), check=False, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "in use" in result.stderr


def test_ctrl_c_exits_0(store):
    root, _ids = store
    srv = UiServer(root)
    assert srv.json("/api/projects")[0] == 200
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(15) == 0
    assert "Traceback" not in srv.proc.stderr.read()


def test_runs_started_after_the_server_appear(tmp_path):
    root = tmp_path / "wandb"
    root.mkdir()
    with UiServer(root) as srv:
        assert srv.json("/api/projects") == (200, [])
        run_wbrun(root, "-p", "late", "--", sys.executable, "-c", "print('loss=1')")
        from tests.helpers_ui import wait_for

        wait_for(lambda: srv.json("/api/runs?project=late")[1]["total"] == 1, timeout=10)


MODS = """
import atexit, os, sys
atexit.register(lambda: open(os.environ["MODS_OUT"], "w").write("\\n".join(sorted(sys.modules))))
sys.argv = ["wbrun", *sys.argv[1:]]
from wandb_cli.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--version"], ["--", "true"], ["runs", "ls"]])
def test_other_commands_do_not_import_the_web_stack(tmp_path, store, args):
    root, _ids = store
    script = tmp_path / "mods.py"
    script.write_text(MODS)
    out = tmp_path / "mods.txt"
    env = {**wbrun_env(root), "MODS_OUT": str(out)}
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    modules = out.read_text().split()
    assert "wandb_cli" in modules
    assert not [m for m in modules if m.split(".")[0] in ("starlette", "uvicorn", "anyio", "wandb_cli.ui")]
    assert "wandb_cli.ui" not in modules and os.path.exists(out)


def test_stop_from_the_page_ends_the_run_killed(tmp_path):
    from tests.helpers_ui import start_training, wait_for

    root = tmp_path / "wandb"
    root.mkdir()
    proc = start_training(root, project="live", name="long", steps=2000, delay=0.05)
    try:
        with UiServer(root) as srv:
            run = wait_for(lambda: srv.json("/api/runs?project=live")[1]["rows"], timeout=30)[0]
            wait_for(lambda: srv.json(f"/api/runs/{run['id']}")[1]["state"] == "running", timeout=30)
            status, body = srv.post(f"/api/runs/{run['id']}/stop", {}, csrf=srv.csrf())
            assert (status, body) == (200, {"ok": True, "already_ended": False})
            wait_for(lambda: srv.json(f"/api/runs/{run['id']}")[1]["state"] == "killed", timeout=60)
            status, body = srv.post(f"/api/runs/{run['id']}/stop", {}, csrf=srv.csrf())
            assert body["already_ended"] is True
    finally:
        proc.wait(60)


def test_the_json_api_imports_no_rich(store):
    root, _ids = store
    code = (
        "import sys\n"
        "from wandb_cli.store.layout import Store\n"
        "from wandb_cli.ui import api\n"
        f"view = api.StoreView(Store(__import__('pathlib').Path({str(root)!r})))\n"
        "page = api.runs_page(view.records(), {'group_by': 'config.opt', 'sort': '-summary.loss'})\n"
        "record = view.run(page['rows'][0]['id'])\n"
        "api.run_detail(view, record); api.history(view, record, {}); api.logs(record, {})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'typer')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


DEFINED = """
import wandb_cli as wandb
run = wandb.init(project="dm", name="defined")
run.define_metric("epoch")
run.define_metric("val/*", step_metric="epoch")
run.define_metric("debug", hidden=True)
for step in range(40):
    row = {"loss": 1 / (step + 1), "debug": step}
    if step % 10 == 9:
        row.update({"epoch": step // 10, "val/acc": 0.5 + step / 100})
    run.log(row)
run.finish()
"""


def test_define_metric_axes_and_hidden_metrics_in_the_charts(tmp_path):
    """No x asked: `val/*` is drawn against its step metric `epoch` (W&B's default axis),
    `loss` against `_step`, `debug` (hidden) left out of the default charts but there when
    asked for; an explicit x puts every series on that axis."""
    root = tmp_path / "wandb"
    subprocess.run([sys.executable, "-c", DEFINED], check=True, env=wbrun_env(root), cwd=tmp_path,
                   capture_output=True, timeout=120)
    run_id = json.loads(run_wbrun(root, "runs", "ls", "--format", "json").stdout)[0]["id"]
    srv = UiServer(root)
    try:
        status, answer = srv.json(f"/api/runs/{run_id}/history")
        assert status == 200
        assert answer["series"]["val/acc"]["x_key"] == "epoch"
        assert answer["series"]["val/acc"]["x"] == [0, 1, 2, 3]
        assert answer["series"]["val/acc"]["y"] == pytest.approx([0.59, 0.69, 0.79, 0.89])
        assert answer["series"]["loss"]["x_key"] == "_step" and len(answer["series"]["loss"]["x"]) == 40
        assert answer["step_metrics"] == {"val/acc": "epoch"}
        assert "debug" not in answer["keys"] and "debug" not in answer["series"]
        status, asked = srv.json(f"/api/runs/{run_id}/history?keys=debug")
        assert asked["series"]["debug"]["y"][-1] == 39
        status, on_step = srv.json(f"/api/runs/{run_id}/history?x=_step&keys=val/acc")
        assert on_step["series"]["val/acc"]["x"] == [9, 19, 29, 39]
        assert on_step["series"]["val/acc"]["x_key"] == "_step"
    finally:
        assert srv.stop() == 0
