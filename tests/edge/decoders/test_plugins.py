"""Decoder plug-ins: another package's decoder, found through the entry-point group
``edge_infer.decoders`` and nothing else (no monkeypatching: ``edge run`` runs in a
subprocess whose ``PYTHONPATH`` holds the installed package, so ``importlib.metadata``
finds its ``.dist-info``); a plug-in that cannot work is a configuration error (exit 78)
naming its entry point and package.

The toy plug-in (``toy_plugin/``) is built and installed with pip into a temporary
folder, never into the venv. The broken ones are written as pip would install them: a
module plus a ``.dist-info`` folder with ``METADATA`` and ``entry_points.txt``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge.decoders.params import ClassifyParams
from edge.decoders.registry import (
    DECODERS,
    DecoderInfo,
    canonical,
    decoder_info,
    default_decoder,
    task_of,
)
from edge.errors import ConfigError
from edge.model.zoo import zoo_file
from tests.conftest import RunEdge, read_jsonl

TOY_SOURCE = Path(__file__).resolve().parent / "toy_plugin"
MODEL = str(zoo_file("digits-cnn.int8.tflite"))
TOY_RECORD = {"label": "7", "class_id": 7, "score": 0.4242}  # what no real model says
# Offline, into a folder of its own, with the venv's setuptools.
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
PIP_INSTALL += ["--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet"]


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy plug-in, pip-installed into a folder of its own (offline)."""
    folder = tmp_path_factory.mktemp("toy-plugin")
    source = folder / "source"  # a copy: the build writes build/ and .egg-info beside it
    shutil.copytree(TOY_SOURCE, source)
    site = folder / "site"
    done = subprocess.run(
        [*PIP_INSTALL, "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (site / "edge_infer_toy_decoder-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def _path(*folders: Path) -> dict[str, str]:
    """The environment of an ``edge`` subprocess that also sees ``folders``."""
    inherited = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join([*map(str, folders), *filter(None, [inherited])])}


def _run(run_edge: RunEdge, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    common = ["--model", MODEL, "--max-frames", "3", "--sink", "jsonl:out.jsonl"]
    return run_edge(["run", *common, *args], env=env)


def test_an_installed_plugin_decodes_an_edge_run(
    toy_site: Path, run_edge: RunEdge, tmp_path: Path
) -> None:
    done = _run(run_edge, _path(toy_site), "--decoder", "toy")
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 3
    assert all(r["detections"] == [TOY_RECORD] for r in records)
    assert all(r["model"]["task"] == "classify" for r in records)


def test_a_plugins_settings_come_from_the_decoder_table(
    toy_site: Path, run_edge: RunEdge, tmp_path: Path
) -> None:
    (tmp_path / "toy.toml").write_text("[decoder]\nname = 'toy'\nanswer = 3\nscore = 0.5\n")
    done = _run(run_edge, _path(toy_site), "--config", "toy.toml")
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["detections"] for r in records] == [[{"label": "3", "class_id": 3, "score": 0.5}]] * 3


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            "name = 'toy'\nanswr = 3\n",
            ["decoder 'toy' has no setting 'answr'; did you mean 'answer'?", "answer, score"],
            id="unknown-key",
        ),
        pytest.param(
            "name = 'toy'\nanswer = -1\n",
            ["decoder 'toy' setting answer: Input should be greater than or equal to 0"],
            id="out-of-range",
        ),
        pytest.param(
            # No name: a plug-in's key passes the config check, and the model's own
            # decoder (classify, from the manifest) refuses it, naming its owner.
            "answer = 3\n",
            ["decoder 'classify' has no setting 'answer' (it is a setting of toy)"],
            id="another-decoders-key",
        ),
    ],
)
def test_a_plugins_settings_are_checked(
    toy_site: Path, run_edge: RunEdge, tmp_path: Path, config: str, expected: list[str]
) -> None:
    (tmp_path / "toy.toml").write_text(f"[decoder]\n{config}")
    done = _run(run_edge, _path(toy_site), "--config", "toy.toml")
    assert done.returncode == 78, done.stderr
    for text in expected:
        assert text in done.stderr


def _fake_install(folder: Path, package: str, entry_points: str, module: str, code: str) -> Path:
    """What pip leaves for a package: its module and a ``.dist-info`` folder."""
    folder.mkdir()
    (folder / f"{module}.py").write_text(code)
    info = folder / f"{package.replace('-', '_')}-0.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.2\n")
    (info / "entry_points.txt").write_text(f"[edge_infer.decoders]\n{entry_points}\n")
    return folder


ROW = """
from edge.decoders.params import ClassifyParams
from edge.decoders.registry import DecoderInfo

{name} = DecoderInfo(
    name={name!r}, params=ClassifyParams, task="classify", aliases={aliases!r},
    module="edge.decoders.classify", function="classify",
)
"""

# (entry point, module code, what the error names besides the entry point and package)
BAD_PLUGINS = [
    pytest.param(
        (
            "broken = edge_bad_decoder:DECODER",
            "import edge_infer_has_no_such_dependency\n",
            "failed to import: ModuleNotFoundError: No module named "
            "'edge_infer_has_no_such_dependency'",
        ),
        id="import-error",
    ),
    pytest.param(
        (
            "broken = edge_bad_decoder:DECODER",
            "DECODER = {'name': 'broken'}\n",
            "is a dict, not a DecoderInfo",
        ),
        id="not-a-decoder-info",
    ),
    pytest.param(
        (
            "broken = edge_bad_decoder:other",
            ROW.format(name="other", aliases=()),
            "names its decoder 'other'; the entry point's name must be the decoder's",
        ),
        id="named-unlike-its-entry-point",
    ),
    pytest.param(
        (
            "broken = edge_bad_decoder:broken",
            ROW.format(name="broken", aliases=("segment", 7)),
            "DecoderInfo 'broken': aliases must be a tuple of names",
        ),
        id="bad-row",
    ),
    pytest.param(
        (
            "classify = edge_bad_decoder:classify",
            ROW.format(name="classify", aliases=()),
            "takes the name 'classify' of the built-in decoder 'classify'",
        ),
        id="a-built-in-name",
    ),
    pytest.param(
        (
            "broken = edge_bad_decoder:broken",
            ROW.format(name="broken", aliases=("yolo11",)),
            "takes the name 'yolo11' of the built-in decoder 'yolov8'",
        ),
        id="a-built-in-alias",
    ),
    pytest.param(
        (
            "broken = edge_bad_decoder:broken",
            ROW.format(name="broken", aliases=("toy",)),
            "both take the name 'toy'",
        ),
        id="another-plugins-name",
    ),
]


@pytest.mark.parametrize("case", BAD_PLUGINS)
def test_a_plugin_that_cannot_work_is_refused_with_exit_78(
    toy_site: Path, run_edge: RunEdge, tmp_path: Path, case: tuple[str, str, str]
) -> None:
    entry_point, code, expected = case
    bad = _fake_install(
        tmp_path / "bad", "edge-infer-bad-decoder", entry_point, "edge_bad_decoder", code
    )
    env = _path(toy_site, bad)
    done = _run(run_edge, env, "--decoder", "toy")
    assert done.returncode == 78, done.stderr
    name, value = entry_point.split(" = ")
    assert f"'{name}' ({value}, package edge-infer-bad-decoder 0.2)" in done.stderr
    assert expected in done.stderr
    assert "pip uninstall edge-infer-bad-decoder" in done.stderr


def test_a_broken_plugin_does_not_stop_a_built_in_decoder(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    """The plug-ins are loaded only for a name that is not built in."""
    code = "import edge_infer_has_no_such_dependency\n"
    bad = _fake_install(tmp_path / "bad", "edge-infer-bad-decoder", "broken = bad:D", "bad", code)
    assert _run(run_edge, _path(bad), "--decoder", "broken").returncode == 78
    done = _run(run_edge, _path(bad), "--decoder", "yolo11", "--task", "classify")
    assert done.returncode == 78, done.stderr  # the built-in was chosen and refused the task
    assert "does not fit decoder" in done.stderr and "plug-in" not in done.stderr
    done = _run(run_edge, _path(bad))
    assert done.returncode == 0, done.stderr
    assert read_jsonl(tmp_path / "out.jsonl")[0]["model"]["task"] == "classify"


def test_a_plugin_whose_function_does_not_import_is_refused_when_chosen(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    row = ROW.format(name="late", aliases=()).replace("edge.decoders.classify", "edge_late_x")
    late = _fake_install(
        tmp_path / "late", "edge-infer-late", "late = edge_late:late", "edge_late", row
    )
    (late / "edge_late_x.py").write_text("import edge_infer_has_no_such_dependency\n")
    done = _run(run_edge, _path(late), "--decoder", "late")
    assert done.returncode == 78, done.stderr
    assert (
        "decoder plug-in 'late' (edge_late:late, package edge-infer-late 0.2): cannot import"
        in (done.stderr)
    )


def test_the_table_answers_without_plugins() -> None:
    assert decoder_info("yolo11") is DECODERS["yolov8"]
    assert canonical("yolo11") == "yolov8"
    assert canonical("raw") == "raw"  # a task without a decoder keeps its name
    assert [default_decoder(t) for t in ("classify", "detect", "anomaly", "generate")] == [
        "classify",
        "centernet",
        "anomaly",
        None,
    ]
    assert task_of("ssd") == "detect"
    assert task_of("image") is None
    with pytest.raises(ConfigError, match="unknown decoder 'yolo9'") as caught:
        decoder_info("yolo9")
    assert caught.value.hint is not None and "yolo11, yolov5, yolov8" in caught.value.hint


def test_a_decoder_info_says_what_is_wrong_with_it() -> None:
    wrong: dict[str, Any] = {"name": "x", "params": dict, "task": "segment"}
    with pytest.raises(ValueError, match="DecoderInfo 'x'") as caught:
        DecoderInfo(**wrong, aliases=("two words",), module="", function="f")
    for problem in (
        "params <class 'dict'> is not a subclass of edge.decoders.params.DecoderParams",
        "task 'segment' is not one of classify, detect, anomaly",
        "alias 'two words' is not a name",
        "module '' is not a name",
    ):
        assert problem in str(caught.value)
    listed: dict[str, Any] = {"aliases": ["z"]}  # a list from a plug-in's code
    row = DecoderInfo(
        name="y", params=ClassifyParams, task="classify", module="m", function="f", **listed
    )
    assert row.aliases == ("z",)
