"""Rich values (Image, Table, Histogram, arrays, charts, audio/video/HTML/3-D, sklearn) logged
by real programs, alone and under `wbrun --`, checked through `wbrun runs ...` and the
files on disk (PNG decoded, table JSON parsed)."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, read_jsonl
from helpers_media import files_dir, run_program, wbrun_json, write_program

np = pytest.importorskip("numpy")
PIL_Image = pytest.importorskip("PIL.Image")


def only_run() -> dict:
    runs = wbrun_json("runs", "ls")
    assert isinstance(runs, list) and len(runs) == 1, runs
    return runs[0]


def history() -> list[dict]:
    rows = wbrun_json("runs", "history", only_run()["id"])
    assert isinstance(rows, list)
    return rows


def decode_png(path: Path):
    with PIL_Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def check_reference(ref: dict, run: dict, kind: str) -> Path:
    """The reference object points at a file under files/media/ whose digest and size match."""
    assert ref["_type"] == kind
    path = files_dir(run) / ref["path"]
    assert ref["path"].startswith("media/") and path.is_file()
    content = path.read_bytes()
    assert ref["sha256"] == hashlib.sha256(content).hexdigest()
    assert ref["size"] == len(content)
    assert ref["sha256"][:20] in path.name
    return path


@pytest.mark.parametrize("wrapped", [False, True], ids=["alone", "wrapped"])
def test_image_and_table_stored_as_wandb_stores_them(tmp_path, wrapped):
    prog = write_program(tmp_path, """
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Image, Table
        run = wandb.init(project="media")
        pixels = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
        table = Table(columns=["id", "name"], data=[[1, "a"], [2, "b"]])
        table.add_data(3, "c")
        sample = Image(pixels, caption="first")
        for step in range(3):
            wandb.log({"loss": 1 / (step + 1), "sample": sample, "preds": table,
                       "fresh": Image(pixels + step)})
        run.finish()
    """)
    run_program(prog, wrapped=wrapped)
    run = only_run()
    rows = history()
    assert [r["_step"] for r in rows] == [0, 1, 2]
    image_ref = rows[0]["sample"]
    png = check_reference(image_ref, run, "image-file")
    assert png.name.startswith("sample_0_") and png.parent.name == "images"
    assert (image_ref["format"], image_ref["width"], image_ref["height"]) == ("png", 8, 6)
    assert image_ref["caption"] == "first"
    expected = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    assert (decode_png(png) == expected).all()
    # the same objects logged again reuse their files (W&B binds a value once)
    assert rows[2]["sample"] == image_ref and rows[2]["preds"] == rows[0]["preds"]
    table_path = check_reference(rows[0]["preds"], run, "table-file")
    assert table_path.name.endswith(".table.json") and table_path.parent.name == "table"
    assert json.loads(table_path.read_text()) == {"columns": ["id", "name"],
                                                  "data": [[1, "a"], [2, "b"], [3, "c"]]}
    assert (rows[0]["preds"]["ncols"], rows[0]["preds"]["nrows"]) == (2, 3)
    shown = wbrun_json("runs", "show", run["id"])
    assert shown["summary"]["sample"] == image_ref  # the summary holds the reference too
    assert rows[1]["fresh"]["path"].startswith("media/images/fresh_1_")
    kinds = {(m["kind"], m["key"], m["step"]) for m in shown["media"]}
    assert kinds == {("image", "sample", 0), ("table", "preds", 0), ("image", "fresh", 0),
                     ("image", "fresh", 1), ("image", "fresh", 2)}
    # history never holds the bytes: the whole file is small
    history_file = files_dir(run) / "wandb-history.jsonl"
    assert history_file.stat().st_size < 5000


def test_history_table_and_media_command(tmp_path, wbrun):
    prog = write_program(tmp_path, """
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Image, Table
        run = wandb.init()
        wandb.log({"img": Image(np.zeros((4, 5), dtype=np.uint8))})
        wandb.log({"img": Image(np.full((4, 5), 255, dtype=np.uint8)), "t": Table(data=[[1]], columns=["x"])})
        run.finish()
    """)
    run_program(prog)
    table = wbrun("runs", "history", "latest", env={"COLUMNS": "400"}, check_code=0).stdout
    assert "image-file media/images/img_0_" in table and "5x4" in table
    listed = wbrun_json("runs", "media", "latest")
    assert [(m["kind"], m["key"], m["step"]) for m in listed] == [
        ("image", "img", 0), ("image", "img", 1), ("table", "t", 1)]
    out = tmp_path / "copied"
    result = wbrun("runs", "media", "latest", "--key", "img", "--output", str(out), check_code=0)
    assert "copied 2 files" in result.stderr
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copied == sorted(m["path"][len("media/"):] for m in listed if m["key"] == "img")
    assert (decode_png(out / copied[1]) == 255).all() or (decode_png(out / copied[0]) == 255).all()
    shown = wbrun("runs", "show", "latest", env={"COLUMNS": "200"}, check_code=0).stdout
    assert "Media" in shown and "media/table/t_1_" in shown
    empty = wbrun("runs", "media", "latest", "--key", "nothing", check_code=0)
    assert "no media" in empty.stderr


def test_image_sources_torch_pil_path_and_modes(tmp_path):
    pytest.importorskip("torch")
    source = tmp_path / "given.png"
    PIL_Image.fromarray(np.full((3, 4, 3), 7, dtype=np.uint8)).save(source)
    prog = write_program(tmp_path, f"""
        import numpy as np, torch
        from PIL import Image as PILImage
        import wandb_cli as wandb
        from wandb_cli.media import Image
        run = wandb.init()
        chw = torch.zeros(3, 2, 5)
        chw[0] = 200.0                                   # red channel first, as torch has it
        wandb.log({{
            "tensor": Image(chw),
            "pil": Image(PILImage.new("RGB", (3, 2), (1, 2, 3))),
            "path": Image({str(source)!r}),
            "gray": Image(np.full((2, 2, 3), 100, dtype=np.uint8), mode="L"),
            "jpeg": Image(np.zeros((4, 4, 3), dtype=np.uint8), file_type="jpg"),
        }})
        run.finish()
    """)
    run_program(prog)
    run, row = only_run(), history()[0]
    tensor = decode_png(check_reference(row["tensor"], run, "image-file"))
    assert tensor.shape == (2, 5, 3) and (tensor[..., 0] == 200).all() and (tensor[..., 1] == 0).all()
    assert (decode_png(check_reference(row["pil"], run, "image-file"))[0, 0] == [1, 2, 3]).all()
    copied = check_reference(row["path"], run, "image-file")
    assert copied.read_bytes() == source.read_bytes() and (row["path"]["width"], row["path"]["height"]) == (4, 3)
    assert decode_png(check_reference(row["gray"], run, "image-file")).shape == (2, 2)
    jpeg = check_reference(row["jpeg"], run, "image-file")
    assert jpeg.suffix == ".jpg" and row["jpeg"]["format"] == "jpg"


def test_image_without_pillow_writes_png_itself(tmp_path):
    prog = write_program(tmp_path, """
        import sys
        sys.modules["PIL"] = None                        # as on a machine without Pillow
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Image
        run = wandb.init()
        rgba = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
        wandb.log({"rgba": Image(rgba), "gray": Image(np.eye(3) * 255),
                   "as_rgb": Image(np.full((2, 2), 9, dtype=np.uint8), mode="RGB")})
        try:
            Image(rgba, file_type="jpg")
        except Exception as exc:
            print("ERROR:", exc)
        run.finish()
    """)
    result = run_program(prog)
    assert "pip install pillow" in result.stdout
    run, row = only_run(), history()[0]
    rgba = decode_png(check_reference(row["rgba"], run, "image-file"))
    assert (rgba == np.arange(48, dtype=np.uint8).reshape(3, 4, 4)).all()
    assert (decode_png(check_reference(row["gray"], run, "image-file")) == np.eye(3) * 255).all()
    rgb = decode_png(check_reference(row["as_rgb"], run, "image-file"))
    assert rgb.shape == (2, 2, 3) and (rgb == 9).all()


def test_table_api_dataframe_and_media_cells(tmp_path):
    pytest.importorskip("pandas")
    prog = write_program(tmp_path, """
        import numpy as np, pandas as pd
        import wandb_cli as wandb
        from wandb_cli.media import Image, Table
        run = wandb.init()
        df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", "y"]})
        from_df = Table(dataframe=df)
        from_df.add_column("d", [True, False])
        assert from_df.get_column("a") == [1, 2]
        assert list(from_df.get_column("a", convert_to="numpy")) == [1, 2]
        with_images = Table(columns=["id", "image"])
        with_images.add_data(0, Image(np.zeros((2, 2), dtype=np.uint8)))
        try:
            with_images.add_data(1)
        except Exception as exc:
            print("ERROR:", exc)
        wandb.log({"df": from_df, "imgs": with_images, "raw_df": df,
                   "arr": Table(data=np.arange(6).reshape(3, 2))})
        run.finish()
    """)
    result = run_program(prog)
    assert "expects 2 values per row" in result.stdout
    run, row = only_run(), history()[0]
    df_table = json.loads(check_reference(row["df"], run, "table-file").read_text(encoding="utf-8"))
    assert df_table["columns"] == ["a", "b", "c", "d"]
    assert df_table["data"][0] == [1, 0.5, "x", True] and df_table["data"][1][1] != df_table["data"][1][1]
    raw = json.loads(check_reference(row["raw_df"], run, "table-file").read_text())
    assert raw["columns"] == ["a", "b", "c"]
    cells = json.loads(check_reference(row["imgs"], run, "table-file").read_text())
    check_reference(cells["data"][0][1], run, "image-file")
    arr = json.loads(check_reference(row["arr"], run, "table-file").read_text())
    assert arr == {"columns": ["col0", "col1"], "data": [[0, 1], [2, 3], [4, 5]]}


def test_histograms_and_arrays_follow_wandbs_rule(tmp_path):
    prog = write_program(tmp_path, """
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Histogram
        run = wandb.init()
        big = np.random.default_rng(0).normal(size=(4000, 1000))   # 32 MB of doubles
        wandb.log({"one": np.array([[2.5]]), "small": np.arange(32), "big": big,
                   "scalar": np.float32(0.5), "h": Histogram([1, 2, 3, 4], num_bins=4),
                   "np_h": Histogram(np_histogram=np.histogram([1, 2, 2, 3], bins=2)),
                   "nested": {"w": np.ones(100)}})
        try:
            Histogram(np.arange(10), num_bins=600)
        except Exception as exc:
            print("ERROR:", exc)
        try:
            import torch
            wandb.log({"tensor": torch.arange(64.0), "tensor_small": torch.tensor([1.0, 2.0]),
                       "tensor_scalar": torch.tensor(3.0)})
        except ImportError:
            pass
        run.finish()
    """)
    result = run_program(prog)
    assert "at most 512 bins" in result.stdout
    run = only_run()
    first = history()[0]
    assert first["one"] == 2.5 and first["small"] == list(range(32)) and first["scalar"] == 0.5
    big = first["big"]
    assert big["_type"] == "histogram" and len(big["values"]) == 32 and len(big["bins"]) == 33
    assert sum(big["values"]) == 4_000_000
    assert first["h"] == {"_type": "histogram", "values": [1, 1, 1, 1], "bins": [1.0, 1.75, 2.5, 3.25, 4.0]}
    assert first["np_h"] == {"_type": "histogram", "values": [1, 3], "bins": [1.0, 2.0, 3.0]}
    assert first["nested"]["w"]["_type"] == "histogram"
    # never megabytes of numbers in the history row, the summary or the index
    for name in ("wandb-history.jsonl", "wandb-summary.json"):
        assert (files_dir(run) / name).stat().st_size < 10_000
    assert only_run()["summary"]["big"]["_type"] == "histogram"
    if "tensor" in only_run()["summary"]:
        second = history()[1]
        assert second["tensor"]["_type"] == "histogram" and second["tensor_small"] == [1.0, 2.0]
        assert second["tensor_scalar"] == 3.0


def test_plain_rows_never_load_the_encoder(tmp_path):
    prog = write_program(tmp_path, """
        import sys
        import wandb_cli as wandb
        run = wandb.init()
        for i in range(100):
            wandb.log({"loss": 1.0 / (i + 1), "epoch": i, "tag": "x", "ok": True, "none": None})
        print(sorted(m for m in sys.modules if m.startswith(("wandb_cli.media.", "numpy"))))
        run.finish()
    """)
    assert run_program(prog).stdout.strip() == "[]"
    assert len(history()) == 100


def test_summary_media_and_key_paths_stay_inside(tmp_path):
    prog = write_program(tmp_path, """
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Html, Image
        run = wandb.init()
        run.summary["best"] = Image(np.zeros((2, 2), dtype=np.uint8))
        wandb.log({"../../escape": Html("<p>x</p>"), "val/examples": Html("<p>y</p>")})
        run.finish()
    """)
    run_program(prog)
    run = only_run()
    best = run["summary"]["best"]
    assert Path(best["path"]).name.startswith("best_summary_")
    check_reference(best, run, "image-file")
    row = history()[0]
    escaped = check_reference(row["../../escape"], run, "html-file")
    assert escaped.resolve().is_relative_to((files_dir(run) / "media" / "html").resolve())
    nested = check_reference(row["val/examples"], run, "html-file")
    assert nested.parent.name == "val"  # W&B: a key's `/` makes folders
    assert not list(Path(run["dir"]).parent.parent.rglob("escape_*"))[1:]


def test_audio_video_html_object3d(tmp_path):
    clip = tmp_path / "clip.gif"
    PIL_Image.new("L", (2, 2)).save(clip)
    model = tmp_path / "cube.obj"
    model.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    prog = write_program(tmp_path, f"""
        import numpy as np
        import wandb_cli as wandb
        from wandb_cli.media import Audio, Html, Object3D, Video
        run = wandb.init()
        tone = np.sin(np.linspace(0, 2 * np.pi * 440, 8000)).astype(np.float32)
        wandb.log({{"audio": Audio(tone, sample_rate=8000, caption="A4"),
                   "video": Video({str(clip)!r}), "page": Html("<h1>report</h1>"),
                   "cloud": Object3D(np.zeros((5, 3))), "mesh": Object3D({str(model)!r})}})
        try:
            Audio(tone)
        except Exception as exc:
            print("ERROR:", exc)
        run.finish()
    """)
    assert "sample_rate is required" in run_program(prog).stdout
    run, row = only_run(), history()[0]
    import wave

    with wave.open(str(check_reference(row["audio"], run, "audio-file"))) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (8000, 8000)
    assert row["audio"]["caption"] == "A4"
    assert check_reference(row["video"], run, "video-file").read_bytes() == clip.read_bytes()
    page = check_reference(row["page"], run, "html-file").read_text()
    assert "<h1>report</h1>" in page and "http" not in page  # no remote stylesheet injected
    cloud = check_reference(row["cloud"], run, "object3D-file")
    assert cloud.name.endswith(".pts.json") and json.loads(cloud.read_text()) == [[0.0] * 3] * 5
    assert check_reference(row["mesh"], run, "object3D-file").read_bytes() == model.read_bytes()


def test_plot_charts_are_tables_plus_a_vega_spec(tmp_path):
    pytest.importorskip("sklearn")
    prog = write_program(tmp_path, """
        import wandb_cli as wandb
        from wandb_cli.media import Table, plot
        run = wandb.init()
        xy = Table(data=[[1, 2], [2, 4], [3, 1]], columns=["x", "y"])
        wandb.log({
            "line": plot.line(xy, "x", "y", title="L"), "scatter": plot.scatter(xy, "x", "y"),
            "bar": plot.bar(xy, "x", "y"), "hist": plot.histogram(xy, "y"),
            "series": plot.line_series([1, 2, 3], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"]),
            "cm": plot.confusion_matrix(y_true=[0, 1, 1, 2], preds=[0, 1, 2, 2],
                                        class_names=["a", "b", "c"]),
            "pr": plot.pr_curve([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.6, 0.4]]),
            "roc": plot.roc_curve([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.6, 0.4]]),
        })
        run.finish()
    """)
    run_program(prog)
    run, row = only_run(), history()[0]
    specs = run["config"]["_wandb"]["visualize"]
    expected = {"line": "wandb/line/v0", "scatter": "wandb/scatter/v0", "bar": "wandb/bar/v0",
                "hist": "wandb/histogram/v0", "series": "wandb/lineseries/v0",
                "cm": "wandb/confusion_matrix/v1", "pr": "wandb/area-under-curve/v0",
                "roc": "wandb/area-under-curve/v0"}
    for key, spec_id in expected.items():
        assert key not in row
        check_reference(row[f"{key}_table"], run, "table-file")
        panel = specs[key]["panel_config"]
        assert panel["panelDefId"] == spec_id
        assert panel["userQuery"]["queryFields"][0]["fields"][3]["args"][0]["value"] == f"{key}_table"
    assert specs["line"]["panel_config"]["fieldSettings"] == {"x": "x", "y": "y", "stroke": None}
    series = json.loads((files_dir(run) / row["series_table"]["path"]).read_text())
    assert series["columns"] == ["step", "lineKey", "lineVal"] and [1, "down", 3] in series["data"]
    cm = json.loads((files_dir(run) / row["cm_table"]["path"]).read_text())
    assert ["b", "c", 1.0] in cm["data"] and ["c", "c", 1.0] in cm["data"] and len(cm["data"]) == 9
    roc = json.loads((files_dir(run) / row["roc_table"]["path"]).read_text())
    assert roc["columns"] == ["class", "fpr", "tpr"] and {r[0] for r in roc["data"]} == {0, 1}


@pytest.mark.slow
def test_sklearn_plots_log_wandbs_tables(tmp_path):
    pytest.importorskip("sklearn")
    prog = write_program(tmp_path, """
        import wandb_cli as wandb
        from wandb_cli.media import sklearn as wsk
        from sklearn.datasets import load_breast_cancer, load_diabetes
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import train_test_split
        run = wandb.init()
        X, y = load_breast_cancer(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X[:200], y[:200], random_state=0)
        clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(Xtr, ytr)
        wsk.plot_classifier(clf, Xtr, Xte, ytr, yte, clf.predict(Xte), clf.predict_proba(Xte),
                            ["malignant", "benign"], model_name="RF")
        X, y = load_diabetes(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X[:150], y[:150], random_state=0)
        wsk.plot_regressor(Ridge().fit(Xtr, ytr), Xtr, Xte, ytr, yte)
        run.finish()
    """)
    run_program(prog, timeout=300)
    run = only_run()
    rows = history()
    keys = [k for r in rows for k in r if not k.startswith("_")]
    assert keys == ["feature_importances", "confusion_matrix", "summary_metrics",
                    "class_proportions", "calibration_curve", "roc_table",
                    "precision_recall_table", "summary_metrics", "learning_curve",
                    "outlier_candidates", "residuals"]
    viz = run["config"]["_wandb"]["viz"]
    assert viz["confusion_matrix"] == {"id": "wandb/confusion_matrix/v1",
                                       "historyFieldSettings": {"x-axis": "_step", "key": "confusion_matrix"}}
    metrics = json.loads((files_dir(run) / rows[2]["summary_metrics"]["path"]).read_text())
    assert metrics["columns"] == ["metric_name", "metric_value", "model_name"]
    assert [m[0] for m in metrics["data"]] == ["accuracy_score", "precision", "recall", "f1_score"]
    cm = json.loads((files_dir(run) / rows[1]["confusion_matrix"]["path"]).read_text())
    assert cm["columns"] == ["Predicted", "Actual", "Count"]
    assert {c[0] for c in cm["data"]} == {"malignant", "benign"}
    assert sum(c[2] for c in cm["data"]) == 50


def test_example_train_wandb_runs_as_wandb_code(tmp_path):
    """examples/train_wandb.py, unchanged, with `import wandb` answered by wbrun (a shim
    here; the compatibility package does it for real) alone and under `wbrun --`."""
    runner = write_program(tmp_path, f"""
        import runpy
        runpy.run_path({str(REPO / "examples" / "train_wandb.py")!r}, run_name="__main__")
    """, name="runner.py", shim=True)
    for wrapped in (False, True):
        run_program(runner, wrapped=wrapped)
    runs = wbrun_json("runs", "ls")
    assert isinstance(runs, list) and len(runs) == 2
    for run in runs:
        assert run["project"] == "quickstart" and run["config"]["epochs"] == 20
        rows = read_jsonl(files_dir(run) / "wandb-history.jsonl")
        assert len(rows) == 21 and rows[-1]["predictions"]["nrows"] == 8
        check_reference(rows[-1]["samples"], run, "image-file")
        assert decode_png(files_dir(run) / rows[-1]["samples"]["path"]).shape == (32, 32)


def test_cli_help_lists_the_new_commands():
    for args in (["runs", "media", "--help"], ["import", "tensorboard", "--help"]):
        result = subprocess.run([sys.executable, "-m", "wandb_cli", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "Example:" in result.stdout


def test_bad_media_input_is_one_line_error(tmp_path):
    prog = write_program(tmp_path, """
        import wandb_cli as wandb
        from wandb_cli.media import Image
        wandb.init()
        Image("/no/such/picture.png")
    """)
    result = subprocess.run([sys.executable, str(prog)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot read media file '/no/such/picture.png'" in result.stderr
    assert io.StringIO(result.stderr).read().count("\n") < 40
