"""The artifact store on real files: versions, dedup, verification, lineage, concurrency, memory."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from wandb_cli.artifacts import store as artifacts
from wandb_cli.artifacts.store import ArtifactCorrupt, ArtifactNotFound
from wandb_cli.errors import ExitCode, UsageError

NOW = 1_700_000_000.0
MiB = 1 << 20


def clock() -> float:
    return NOW


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "wandb"


def make_tree(folder: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "data", {
        "train.csv": b"x,y\n1,2\n", "sub/labels.txt": b"cat\ndog\n", "sub/deep/empty.bin": b"",
    })


def blob_files(root: Path) -> list[Path]:
    blobs = root / ".wbrun" / "artifacts" / "blobs"
    return [p for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]


def blob_of(root: Path, digest: str) -> Path:
    return root / ".wbrun" / "artifacts" / "blobs" / digest[:2] / digest[2:]


def manifest_path(root: Path, name: str, version: int) -> Path:
    return root / ".wbrun" / "artifacts" / "names" / name / f"v{version}.json"


def test_manifest_records_each_file_by_content(root: Path, data: Path) -> None:
    result = artifacts.log_artifact(root, data, "ds", "dataset", producer_run="run1", clock=clock)
    manifest = result.manifest
    assert (result.version, result.new, result.ref) == (0, True, "ds:v0")
    expected = {
        p.relative_to(data).as_posix(): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in data.rglob("*") if p.is_file()
    }
    assert {f.path: (f.size, f.digest) for f in manifest.files} == expected
    assert [f.path for f in manifest.files] == sorted(expected)
    assert manifest.size == sum(size for size, _ in expected.values())
    assert (manifest.type, manifest.created, manifest.producer_run) == ("dataset", NOW, "run1")
    assert manifest.digest == artifacts.manifest_digest(manifest.files)
    on_disk = orjson.loads(manifest_path(root, "ds", 0).read_bytes())
    assert on_disk == manifest.to_json()
    assert manifest.to_dict()["created"] == "2023-11-14T22:13:20.000Z"


def test_single_file_is_stored_under_its_own_name(root: Path, data: Path) -> None:
    manifest = artifacts.log_artifact(root, data / "train.csv", "csv", "dataset").manifest
    assert [f.path for f in manifest.files] == ["train.csv"]


def test_unchanged_folder_logged_twice_is_one_version(root: Path, data: Path) -> None:
    first = artifacts.log_artifact(root, data, "ds", "dataset", clock=clock)
    again = artifacts.log_artifact(root, data, "ds", "dataset", clock=lambda: NOW + 60)
    assert (again.version, again.new) == (0, False)
    assert again.manifest.created == first.manifest.created
    [summary] = artifacts.list_artifacts(root)
    assert summary.versions == [0]


def test_changed_folder_is_a_new_version_and_latest(root: Path, data: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    (data / "train.csv").write_bytes(b"x,y\n1,3\n")
    second = artifacts.log_artifact(root, data, "ds", "dataset")
    assert (second.version, second.new) == (1, True)
    assert artifacts.resolve(root, "ds").version == 1
    assert artifacts.resolve(root, "ds:latest").version == 1
    assert artifacts.resolve(root, "ds:v0").aliases == []
    assert artifacts.resolve(root, "ds:v1").aliases == ["latest"]
    (data / "new.txt").write_bytes(b"more")
    assert artifacts.log_artifact(root, data, "ds", "dataset").version == 2


def test_blobs_are_shared_across_versions_and_artifacts(root: Path, data: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    assert len(blob_files(root)) == 3
    (data / "train.csv").write_bytes(b"changed")
    artifacts.log_artifact(root, data, "ds", "dataset")
    assert len(blob_files(root)) == 4  # only the changed file is stored again
    artifacts.log_artifact(root, data, "copy", "dataset")
    assert len(blob_files(root)) == 4
    assert all(not p.name.startswith(".tmp-") for p in (root / ".wbrun").rglob("*"))


def test_a_name_keeps_its_type(root: Path, data: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    with pytest.raises(UsageError, match="has type 'dataset', not 'model'"):
        artifacts.log_artifact(root, data, "ds", "model")


def test_nothing_to_log_is_a_usage_error(root: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no files"):
        artifacts.log_artifact(root, tmp_path / "empty", "ds", "dataset")
    with pytest.raises(UsageError, match="no such file"):
        artifacts.log_artifact(root, tmp_path / "missing", "ds", "dataset")


def test_logging_a_folder_that_holds_the_store_skips_the_store(tmp_path: Path) -> None:
    project = make_tree(tmp_path / "project", {"a.txt": b"a"})
    root = project / "wandb"
    artifacts.log_artifact(root, project, "p", "code")
    (project / "b.txt").write_bytes(b"b")
    manifest = artifacts.log_artifact(root, project, "p", "code").manifest
    assert [f.path for f in manifest.files] == ["a.txt", "b.txt"]


def test_get_puts_verified_files_in_place(root: Path, data: Path, tmp_path: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    target = tmp_path / "out"
    manifest = artifacts.get_artifact(root, "ds:v0", target)
    for entry in manifest.files:
        assert (target / entry.path).read_bytes() == (data / entry.path).read_bytes()
    assert sorted(p.name for p in target.rglob("*") if p.name.startswith(".tmp-")) == []


def test_get_refuses_a_tampered_blob(root: Path, data: Path, tmp_path: Path) -> None:
    manifest = artifacts.log_artifact(root, data, "ds", "dataset").manifest
    entry = next(f for f in manifest.files if f.path == "sub/labels.txt")
    blob = blob_of(root, entry.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"cat\nfox\n")
    target = tmp_path / "out"
    with pytest.raises(ArtifactCorrupt, match="sub/labels.txt") as caught:
        artifacts.get_artifact(root, "ds", target, consumer_run="reader")
    assert caught.value.exit_code == ExitCode.ERROR
    assert not (target / "sub" / "labels.txt").exists()
    assert [p.name for p in target.rglob(".tmp-*")] == []
    assert artifacts.show(root, "ds").consumers == []  # a failed get is not a use
    artifacts.log_artifact(root, data, "ds", "dataset")  # logging the content again heals it
    artifacts.get_artifact(root, "ds", target)
    assert (target / "sub" / "labels.txt").read_bytes() == b"cat\ndog\n"


def test_get_names_a_missing_blob(root: Path, data: Path, tmp_path: Path) -> None:
    manifest = artifacts.log_artifact(root, data, "ds", "dataset").manifest
    entry = next(f for f in manifest.files if f.path == "train.csv")
    blob_of(root, entry.digest).unlink()
    with pytest.raises(ArtifactCorrupt, match="'train.csv' is missing"):
        artifacts.get_artifact(root, "ds", tmp_path / "out")


@pytest.mark.parametrize("bad_path", ["../evil.txt", "sub/../../evil.txt", "/tmp/evil.txt", "a//b"])
def test_get_refuses_a_manifest_path_outside_the_target(
    root: Path, data: Path, tmp_path: Path, bad_path: str,
) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    path = manifest_path(root, "ds", 0)
    doc = orjson.loads(path.read_bytes())
    doc["files"][0]["path"] = bad_path
    files = [artifacts.ArtifactFile(**f) for f in doc["files"]]
    doc["digest"] = artifacts.manifest_digest(files)  # a careful tamperer fixes the digest too
    path.write_bytes(orjson.dumps(doc))
    target = tmp_path / "deep" / "out"
    with pytest.raises(ArtifactCorrupt, match="unsafe path"):
        artifacts.get_artifact(root, "ds", target)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not target.exists()


def test_a_manifest_edited_without_its_digest_is_refused(root: Path, data: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    path = manifest_path(root, "ds", 0)
    doc = orjson.loads(path.read_bytes())
    doc["files"][0]["size"] += 1
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(ArtifactCorrupt, match="does not match its digest"):
        artifacts.resolve(root, "ds")


def test_get_does_not_follow_a_link_out_of_the_target(root: Path, data: Path, tmp_path: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    target, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (target / "sub").symlink_to(elsewhere)
    with pytest.raises(ArtifactCorrupt, match="outside"):
        artifacts.get_artifact(root, "ds", target)
    assert list(elsewhere.iterdir()) == []


def test_lineage_records_producer_and_consumers(root: Path, data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "wandb" / "run-20240101_000000-maker"
    run_dir.mkdir(parents=True)
    artifacts.log_artifact(root, data, "ds", "dataset", producer_run="maker", clock=clock)
    shutil.rmtree(run_dir)  # the store must not need the producing run's folder
    for reader in ("reader1", "reader2", "reader1"):
        artifacts.get_artifact(root, "ds:v0", tmp_path / reader, consumer_run=reader)
    shown = artifacts.show(root, "ds:v0")
    assert (shown.producer_run, shown.consumers) == ("maker", ["reader1", "reader2"])
    assert (shown.type, shown.created, shown.aliases) == ("dataset", NOW, ["latest"])
    assert [f.path for f in shown.files] == ["sub/deep/empty.bin", "sub/labels.txt", "train.csv"]
    inputs, outputs = artifacts.runs_artifacts(root, "reader1")
    assert ([m.ref for m in inputs], outputs) == (["ds:v0"], [])
    inputs, outputs = artifacts.runs_artifacts(root, "maker")
    assert (inputs, [m.ref for m in outputs]) == ([], ["ds:v0"])
    [use] = artifacts.artifacts_of_run(root, "maker")
    assert (use.ref, use.role, use.other_runs, use.shared) == (
        "ds:v0", "produced", ("reader1", "reader2"), True)
    [use] = artifacts.artifacts_of_run(root, "reader2")
    assert (use.role, use.other_runs) == ("consumed", ("maker", "reader1"))
    assert artifacts.artifacts_of_run(root, "stranger") == []


def test_aliases_move_and_latest_follows_the_newest(root: Path, data: Path) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset", aliases=["best"])
    again = artifacts.log_artifact(root, data, "ds", "dataset", aliases=["prod"])
    assert (again.new, again.manifest.aliases) == (False, ["latest", "best", "prod"])
    (data / "train.csv").write_bytes(b"v1")
    artifacts.log_artifact(root, data, "ds", "dataset", aliases=["best"])
    assert artifacts.resolve(root, "ds:best").version == 1
    assert artifacts.resolve(root, "ds:v0").aliases == ["prod"]
    moved = artifacts.add_alias(root, "ds:prod", "best")
    assert (moved.version, moved.aliases) == (0, ["best", "prod"])
    assert artifacts.resolve(root, "ds:v1").aliases == ["latest"]
    [summary] = artifacts.list_artifacts(root)
    assert (summary.name, summary.type, summary.versions) == ("ds", "dataset", [0, 1])
    assert (summary.aliases, summary.latest.version) == ({"best": 0, "prod": 0}, 1)


@pytest.mark.parametrize("alias", ["latest", "v3", "a/b", ""])
def test_reserved_or_bad_aliases_are_refused(root: Path, data: Path, alias: str) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    with pytest.raises(UsageError) as caught:
        artifacts.add_alias(root, "ds:v0", alias)
    assert caught.value.exit_code == ExitCode.USAGE
    assert artifacts.resolve(root, "ds:v0").aliases == ["latest"]


@pytest.mark.parametrize("ref, message", [
    ("nope", "no artifact named 'nope'"),
    ("ds:v7", "has no version 'v7' (it has v0)"),
    ("ds:gold", "has no alias 'gold'"),
])
def test_unknown_references_are_clear_errors(root: Path, data: Path, ref: str, message: str) -> None:
    artifacts.log_artifact(root, data, "ds", "dataset")
    with pytest.raises(ArtifactNotFound, match=re.escape(message)) as caught:
        artifacts.resolve(root, ref)
    assert caught.value.exit_code == ExitCode.ERROR


@pytest.mark.parametrize("name", [
    "", "a/b", "a\\b", "a:b", "tab\there", "esc\x1b[31m", "del\x7f", "..", "a..b", ".hidden",
    "x" * 129,
])
def test_bad_names_are_refused(root: Path, data: Path, name: str) -> None:
    with pytest.raises(UsageError, match="bad artifact name") as caught:
        artifacts.log_artifact(root, data, name, "dataset")
    assert caught.value.exit_code == ExitCode.USAGE
    assert not (root / ".wbrun").exists()  # refused before anything is written


@pytest.mark.parametrize("name", ["mnist", "my-model_v2.1", "données", "x" * 128, "a.b"])
def test_good_names_are_accepted(root: Path, data: Path, name: str) -> None:
    assert artifacts.log_artifact(root, data, name, "dataset").ref == f"{name}:v0"
    assert artifacts.resolve(root, name).name == name


def test_empty_store_lists_nothing(root: Path) -> None:
    assert artifacts.list_artifacts(root) == []
    assert artifacts.runs_artifacts(root, "any") == ([], [])


def _log_after_barrier(root: Path, source: Path, barrier, results) -> None:
    barrier.wait()
    result = artifacts.log_artifact(root, source, "shared", "dataset")
    results.put((source.name, result.version, result.new))


def _get_after_barrier(root: Path, target: Path, barrier, results) -> None:
    barrier.wait()
    artifacts.get_artifact(root, "shared:v0", target, consumer_run=target.name)
    results.put(target.name)


def _run_together(target, args_list: list[tuple]) -> list:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(args_list)), context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for args in args_list]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    return [results.get(timeout=5) for _ in workers]


@pytest.mark.slow
def test_concurrent_logs_and_gets_from_several_processes(root: Path, tmp_path: Path) -> None:
    distinct = [make_tree(tmp_path / f"d{i}", {"f.txt": f"content {i}".encode()}) for i in range(4)]
    twins = [make_tree(tmp_path / f"twin{i}", {"f.txt": b"the same"}) for i in range(2)]
    logged = _run_together(_log_after_barrier, [(root, s) for s in distinct + twins])
    versions = {source: version for source, version, _ in logged}
    assert sorted(set(versions.values())) == [0, 1, 2, 3, 4]
    assert len({versions[s.name] for s in distinct}) == 4
    assert versions["twin0"] == versions["twin1"]
    assert sorted(new for source, _, new in logged if source.startswith("twin")) == [False, True]
    for source in distinct + twins:
        manifest = artifacts.resolve(root, f"shared:v{versions[source.name]}")
        assert manifest.files[0].digest == hashlib.sha256((source / "f.txt").read_bytes()).hexdigest()
    readers = [tmp_path / f"reader{i}" for i in range(5)]
    assert sorted(_run_together(_get_after_barrier, [(root, r) for r in readers])) == [
        r.name for r in readers]
    assert sorted(artifacts.show(root, "shared:v0").consumers) == [r.name for r in readers]


LOG_IN_CHILD = """
import resource, signal, sys
from pathlib import Path
from wandb_cli.artifacts import store as artifacts
from wandb_cli.errors import WbrunError
root, source, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
if sys.argv[4] == "die":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it, so the write gets EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    artifacts.log_artifact(root, source, "big", "dataset")
except WbrunError as exc:
    print(type(exc).__name__, exc)
    sys.exit(exc.exit_code)
"""


@pytest.mark.slow
def test_an_interrupted_log_leaves_no_version(root: Path, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", {"a.txt": b"small", "b.bin": os.urandom(4 * MiB)})
    child = [sys.executable, "-c", LOG_IN_CHILD, str(root), str(source), str(MiB)]
    killed = subprocess.run([*child, "die"], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGXFSZ, killed.stderr  # killed mid-blob by the kernel
    blobs = root / ".wbrun" / "artifacts" / "blobs"
    assert len(list(blobs.glob(".tmp-*"))) == 1 and len(blob_files(root)) == 1
    assert artifacts.list_artifacts(root) == []
    with pytest.raises(ArtifactNotFound):
        artifacts.resolve(root, "big")
    failed = subprocess.run([*child, "survive"], capture_output=True, text=True, timeout=60)
    assert (failed.returncode, failed.stdout.split()[0]) == (1, "StoreError"), failed.stderr
    assert len(list(blobs.glob(".tmp-*"))) == 1  # the survivor cleaned up its own temp file
    assert artifacts.log_artifact(root, source, "big", "dataset").ref == "big:v0"


MEASURE_IN_CHILD = """
import resource, sys
from pathlib import Path
from wandb_cli.artifacts import store as artifacts
def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
root, source, target = map(Path, sys.argv[1:])
baseline = peak_bytes()
manifest = artifacts.log_artifact(root, source, "big", "dataset").manifest
after_log = peak_bytes()
artifacts.get_artifact(root, "big:v0", target)
print(baseline, after_log, peak_bytes(), manifest.size, manifest.files[0].digest)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_a_256_mib_file_is_logged_and_got_with_bounded_memory(tmp_path: Path) -> None:
    source, size = tmp_path / "big.bin", 256 * MiB
    expected = hashlib.sha256()
    with open(source, "wb") as out:  # sparse, with random islands so the content is not trivial
        for offset in range(0, size, 64 * MiB):
            out.seek(offset)
            island = os.urandom(MiB)
            out.write(island)
            expected.update(island + bytes(63 * MiB))
        out.truncate(size)
    root, target = tmp_path / "wandb", tmp_path / "got"
    try:
        child = subprocess.run(
            [sys.executable, "-c", MEASURE_IN_CHILD, str(root), str(source), str(target)],
            capture_output=True, text=True, timeout=120,
        )
        assert child.returncode == 0, child.stderr
        baseline, after_log, after_get, logged_size, digest = child.stdout.split()
        assert (int(logged_size), digest) == (size, expected.hexdigest())
        assert (target / "big.bin").stat().st_size == size
        assert int(after_log) - int(baseline) < 64 * MiB
        assert int(after_get) - int(baseline) < 64 * MiB
    finally:
        shutil.rmtree(tmp_path)  # 768 MiB: do not leave it for pytest's kept temp folders
