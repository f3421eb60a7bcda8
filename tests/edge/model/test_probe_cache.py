"""A model is probed once: the shipped zoo by its digests, any other file the first time
it is run (``edge.model.verify.cache``, ``edge.model.verify.probe.verify_model``), and the
probe of a new model starts before the rest of ``edge run`` (``edge.model.verify.ahead``).

"No child ran" is shown by replacing the child with one that aborts: had it run, the
model would have been refused as a crash. Real LiteRT and the real zoo files throughout;
a "new" model is the shipped CNN with 64 zero bytes appended (a valid file LiteRT loads,
with a digest nobody has verified).
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from edge.errors import ModelError
from edge.model.file import read_model_file
from edge.model.verify import cache as probe_cache
from edge.model.verify import probe as model_probe
from edge.model.verify.ahead import probe_ahead
from edge.model.verify.probe import start_probe, verify_model
from tests.conftest import RunEdge

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"
CNN = ZOO / "digits-cnn.int8.tflite"
ABORT = "import os; os.abort()"


@pytest.fixture(autouse=True)
def _fresh_process_state() -> None:
    model_probe._PROBED.clear()
    model_probe._PENDING.clear()


@pytest.fixture
def new_model(tmp_path: Path) -> Path:
    path = tmp_path / "new.tflite"
    path.write_bytes(CNN.read_bytes() + bytes(64))
    return path


def test_the_shipped_list_names_every_zoo_model_with_its_digest() -> None:
    listed = {}
    for line in (ZOO / probe_cache.SHIPPED_LIST).read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    files = sorted(p.name for p in ZOO.glob("*.tflite"))
    assert sorted(listed) == files  # python -m models.train rewrites it with the zoo
    for name in files:
        assert listed[name] == hashlib.sha256((ZOO / name).read_bytes()).hexdigest(), name
    assert probe_cache.shipped_digests() == frozenset(listed.values())


def test_models_train_writes_the_list_the_zoo_ships(tmp_path: Path) -> None:
    """``python -m models.train`` rewrites SHA256SUMS with the zoo (no TensorFlow here)."""
    import shutil

    from models.train import write_digests

    for path in ZOO.glob("*.tflite"):
        shutil.copy(path, tmp_path / path.name)
    written = write_digests(tmp_path)
    assert written.read_text() == (ZOO / probe_cache.SHIPPED_LIST).read_text()


def test_a_shipped_model_is_loaded_without_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    assert verify_model(read_model_file(CNN)) == "shipped"


def test_a_new_model_is_probed_once_then_remembered_across_runs(
    monkeypatch: pytest.MonkeyPatch, new_model: Path
) -> None:
    model = read_model_file(new_model)
    assert verify_model(model) == "probed"
    record = probe_cache.cache_file()
    assert record is not None and record.is_file()
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert record.read_text() == f"{model.sha256} ai_edge_litert-{_litert_version()}\n"
    assert [p.name for p in record.parent.iterdir()] == [record.name]  # no temp file left
    model_probe._PROBED.clear()  # as a new process would start
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    assert verify_model(model) == "remembered"


def test_a_model_that_fails_the_probe_is_never_remembered(
    monkeypatch: pytest.MonkeyPatch, new_model: Path
) -> None:
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    with pytest.raises(ModelError, match="crashed a test process"):
        verify_model(read_model_file(new_model))
    record = probe_cache.cache_file()
    assert record is not None and not record.exists()


def test_another_runtime_version_probes_again(
    monkeypatch: pytest.MonkeyPatch, new_model: Path
) -> None:
    model = read_model_file(new_model)
    assert probe_cache.remember(model.sha256, "ai_edge_litert-0.0.1")
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    with pytest.raises(ModelError, match="crashed a test process"):
        verify_model(model)


def test_a_record_others_can_write_is_ignored(new_model: Path) -> None:
    model = read_model_file(new_model)
    assert verify_model(model) == "probed"
    record = probe_cache.cache_file()
    assert record is not None
    record.chmod(0o666)  # another account could have added a hostile model's digest
    assert probe_cache.remembered() == set()
    assert not probe_cache.remember("0" * 64, "ai_edge_litert-x")
    record.chmod(0o600)
    record.parent.chmod(0o777)
    try:
        assert probe_cache.remembered() == set()
    finally:
        record.parent.chmod(0o700)


def test_an_unwritable_record_only_means_probing_every_time(
    monkeypatch: pytest.MonkeyPatch, new_model: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/edge-no-such-folder")
    assert probe_cache.cache_file() == Path(
        "/proc/edge-no-such-folder/edge-infer", probe_cache.FILE_NAME
    )
    model = read_model_file(new_model)
    assert verify_model(model) == "probed"
    model_probe._PROBED.clear()
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    with pytest.raises(ModelError):
        verify_model(model)


def test_the_record_location_follows_systemd_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("CACHE_DIRECTORY", "STATE_DIRECTORY", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert probe_cache.cache_file() == tmp_path / ".cache/edge-infer" / probe_cache.FILE_NAME
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert probe_cache.cache_file() == Path("/x/edge-infer", probe_cache.FILE_NAME)
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/edge:/var/lib/other")
    assert probe_cache.cache_file() == Path("/var/lib/edge", probe_cache.FILE_NAME)
    monkeypatch.setenv("CACHE_DIRECTORY", "/var/cache/edge")
    assert probe_cache.cache_file() == Path("/var/cache/edge", probe_cache.FILE_NAME)


def test_a_background_probe_is_awaited_before_the_model_is_loaded(
    monkeypatch: pytest.MonkeyPatch, new_model: Path, tmp_path: Path
) -> None:
    """The child writes a marker as its last act; verify_model returns only after it."""
    marker, gate = tmp_path / "child-finished", tmp_path / "go"
    # The child cannot finish before the test opens the gate (so "still under way" holds
    # on any machine), then takes a while, so verify_model has to wait for it.
    child = (
        f"import time, pathlib; gate = pathlib.Path({str(gate)!r}); "
        f"deadline = time.monotonic() + 30\n"
        f"while not gate.exists() and time.monotonic() < deadline: time.sleep(0.01)\n"
        f"time.sleep(0.5); pathlib.Path({str(marker)!r}).write_text('done')"
    )
    monkeypatch.setattr(model_probe, "_CHILD", child)
    model = read_model_file(new_model)
    assert start_probe(model.content, origin="new", digest=model.sha256)
    assert not marker.exists()  # still under way: it did not block the caller
    gate.touch()
    assert verify_model(model) == "probed"
    assert marker.read_text() == "done"
    assert model_probe._PENDING == {}


def test_a_background_probe_that_fails_refuses_the_model(
    monkeypatch: pytest.MonkeyPatch, new_model: Path
) -> None:
    monkeypatch.setattr(model_probe, "_CHILD", ABORT)
    model = read_model_file(new_model)
    assert start_probe(model.content, origin=str(new_model), digest=model.sha256)
    with pytest.raises(ModelError, match=r"new.tflite: the model crashed a test process"):
        verify_model(model)


def test_no_background_probe_for_verified_models(new_model: Path) -> None:
    shipped = read_model_file(CNN)
    assert not start_probe(shipped.content, origin="cnn", digest=shipped.sha256)
    model = read_model_file(new_model)
    verify_model(model)
    model_probe._PROBED.clear()
    assert not start_probe(model.content, origin="new", digest=model.sha256)


def _started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def fake_start(
        content: bytes, *, origin: str, digest: str, runtime: str = "auto", timeout: float = 20.0
    ) -> bool:
        seen.append(f"{origin} {runtime} {timeout:g}")
        return True

    monkeypatch.setattr(model_probe, "start_probe", fake_start)
    return seen


def test_probe_ahead_reads_the_model_from_the_flag_or_the_config(
    monkeypatch: pytest.MonkeyPatch, new_model: Path, tmp_path: Path
) -> None:
    seen = _started(monkeypatch)
    config = tmp_path / "conf" / "edge.toml"
    config.parent.mkdir()
    (config.parent / "m.tflite").write_bytes(new_model.read_bytes())
    config.write_text('[model]\npath = "m.tflite"\nprobe_timeout = 7\n')
    assert probe_ahead(config, None, skip=False)  # relative to the config file's folder
    assert probe_ahead(config, new_model, skip=False)  # --model wins
    assert probe_ahead(None, None, skip=False)  # the default model
    assert seen == [
        f"{config.parent.absolute() / 'm.tflite'} auto 7",
        f"{new_model} auto 7",
        f"{CNN} auto 20",
    ]


def test_probe_ahead_leaves_anything_odd_to_the_normal_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _started(monkeypatch)
    config = tmp_path / "edge.toml"
    assert not probe_ahead(config, None, skip=False)  # no such file
    config.write_text("[model\n")
    assert not probe_ahead(config, None, skip=False)  # not TOML
    config.write_text("[model]\nprobe = false\n")
    assert not probe_ahead(config, None, skip=False)
    assert not probe_ahead(None, tmp_path / "missing.tflite", skip=False)
    assert not probe_ahead(None, None, skip=True)  # --no-model-probe
    assert seen == []


def test_edge_run_probes_a_new_model_once(run_edge: RunEdge, new_model: Path) -> None:
    """Two real runs: the first probes (in the background) and records the file, the
    second loads it as remembered."""
    args = ["-v", "run", "--model", str(new_model), "--max-frames", "1", "--sink", "stdout"]
    first = run_edge(args)
    assert first.returncode == 0, first.stderr
    assert "new.tflite verified: probed" in first.stderr
    record = probe_cache.cache_file()
    assert record is not None and record.read_text().startswith(
        hashlib.sha256(new_model.read_bytes()).hexdigest()
    )
    second = run_edge(args)
    assert second.returncode == 0, second.stderr
    assert "new.tflite verified: remembered" in second.stderr
    assert json.loads(second.stdout.splitlines()[0])["model"]["name"] == "digits-cnn"


def test_edge_run_of_the_default_model_does_not_probe(run_edge: RunEdge) -> None:
    done = run_edge(["-v", "run", "--max-frames", "1", "--sink", "stdout"])
    assert done.returncode == 0, done.stderr
    assert "digits-cnn.int8.tflite verified: shipped" in done.stderr


def _litert_version() -> str:
    import ai_edge_litert

    return str(ai_edge_litert.__version__)
