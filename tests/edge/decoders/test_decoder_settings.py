"""Decoder settings belong to the decoder: validated against its pydantic model, from the
``[decoder]`` table and ``--decoder-opt``, with the same exit 78 from ``edge run`` and
``edge check-config``; manifest values replaced only by explicit settings."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge.cli.run import decoder_overrides
from edge.config.load import load_config
from edge.config.model import DecoderConfig, ModelConfig
from edge.decoders.params import ClassifyParams
from edge.decoders.registry import DECODERS, resolve_params
from edge.errors import BackendError, ConfigError, UsageError
from edge.model.load import load_model
from edge.model.zoo import zoo_file
from edge.pipeline.inference import Inference, open_inference
from edge.pipeline.loop import Pipeline
from edge.pipeline.stats import RunStats
from edge.record import RecordContext
from edge.service.reload import Reloader
from edge.sinks.memory import MemorySink
from edge.sources.synthetic import SyntheticCamera
from tests.conftest import RunEdge, read_jsonl

ANOMALY = zoo_file("digits-anomaly.int8.tflite")
DETECTOR = zoo_file("digits-detector.int8.tflite")
CLASSIFY_KEYS = (
    "valid keys of the classify decoder: activation, decision_threshold, threshold, top_k"
)


def test_every_decoder_declares_its_parameters() -> None:
    for info in DECODERS.values():
        for name, field in info.params.model_fields.items():
            assert field.description, f"{info.params.__name__}.{name} has no description"


# (config text, --decoder-opt flags, model, what stderr must say) for the default model
# (classify from its manifest) unless a model is named.
CASES = [
    pytest.param(
        "[decoder]\ntop_k = 0\n",
        ["top_k=0"],
        None,
        [
            "decoder 'classify' setting top_k: Input should be greater than or equal to 1",
            CLASSIFY_KEYS,
        ],
        id="out-of-range",
    ),
    pytest.param(
        "[decoder]\nthreshold = 'high'\n",
        ["threshold=high"],
        None,
        ["decoder 'classify' setting threshold: Input should be a valid number", CLASSIFY_KEYS],
        id="wrong-type",
    ),
    pytest.param(
        "[decoder]\niou_threshold = 0.5\n",
        ["iou_threshold=0.5"],
        None,
        [
            "decoder 'classify' has no setting 'iou_threshold' (it is a setting of "
            "centernet, yolov5, yolov8)",
            CLASSIFY_KEYS,
        ],
        id="other-decoders-key",
    ),
    pytest.param(
        "[decoder]\ntop_k = 3\n",
        ["top_k=3"],
        ANOMALY,
        [
            "decoder 'anomaly' has no setting 'top_k' (it is a setting of classify)",
            "valid keys of the anomaly decoder: threshold",
        ],
        id="top_k-on-anomaly",
    ),
    pytest.param(
        "[decoder]\nname = 'yolov8'\ncoordinates = 'inches'\n",
        ["coordinates=inches", "--decoder", "yolov8"],
        None,
        [
            "decoder 'yolov8' setting coordinates: Input should be 'auto', 'pixels' or "
            "'normalized'",
            "valid keys of the yolov8 decoder: agnostic_nms, coordinates, "
            "iou_threshold, layout, max_detections, output, score_threshold",
        ],
        id="named-decoder",
    ),
]


@pytest.mark.parametrize(("text", "flags", "model", "expected"), CASES)
def test_bad_setting_exits_78_everywhere(
    run_edge: RunEdge,
    tmp_path: Path,
    *,
    text: str,
    flags: list[str],
    model: Path | None,
    expected: list[str],
) -> None:
    model_lines = f"[model]\npath = '{model}'\n" if model else ""
    (tmp_path / "edge.toml").write_text(model_lines + text)
    options = [
        part for flag in flags for part in (["--decoder-opt", flag] if "=" in flag else [flag])
    ]
    model_flags = ["--model", str(model)] if model else []
    runs = [
        ["run", "--config", "edge.toml", "--max-frames", "1"],
        ["check-config", "edge.toml"],
        ["run", *model_flags, *options, "--max-frames", "1"],
    ]
    for command in runs:
        done = run_edge(command)
        assert done.returncode == 78, (command, done.stderr)
        assert "Traceback" not in done.stderr
        for fragment in expected:
            assert fragment in done.stderr, (command, done.stderr)
    assert not (tmp_path / "detections.jsonl").exists()


def test_key_no_decoder_has_names_each_decoders_keys(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("[decoder]\nscore_treshold = 0.4\n")
    for command in (["run", "--config", "edge.toml"], ["check-config", "edge.toml"]):
        done = run_edge(command)
        assert done.returncode == 78
        assert (
            "unknown key 'score_treshold' in [decoder] (line 2); did you mean "
            "'score_threshold'?" in done.stderr
        )
        assert "classify: activation, decision_threshold, threshold, top_k" in done.stderr
        assert "yolov8: agnostic_nms, coordinates, iou_threshold, layout" in done.stderr
    done = run_edge(["run", "--decoder", "ssd", "--decoder-opt", "label_ofset=1"])
    assert done.returncode == 78
    assert "decoder 'ssd' has no setting 'label_ofset'; did you mean 'label_offset'?" in done.stderr
    assert (
        "valid keys of the ssd decoder: boxes, classes, count, label_offset, "
        "max_detections, score_threshold, scores" in done.stderr
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[decoder]\nname = 'yolo9'\n", "unknown decoder 'yolo9'"),
        (f"[model]\npath = '{zoo_file('digits-dcgan-generator.int8.tflite')}'\n", "is a generator"),
        (
            "[model.input]\ncolour = 'rgb'\n",
            "colour 'rgb' gives 3 channel(s) but the model's input tensor",
        ),
        (
            "[filters]\nallow = ['seven']\n",
            "filters.allow names labels the model does not have: seven",
        ),
        ("[events]\nenabled = true\n", "event mode tracks boxes"),
    ],
)
def test_check_config_refuses_what_run_refuses(
    run_edge: RunEdge, tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "edge.toml").write_text(text)
    for command in (
        ["check-config", "edge.toml"],
        ["run", "--config", "edge.toml", "--max-frames", "1"],
    ):
        done = run_edge(command)
        assert done.returncode == 78, (command, done.stderr)
        assert expected in done.stderr, (command, done.stderr)
        assert "fix:" in done.stderr


def test_check_config_shows_the_resolved_decoder(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(
        f"[model]\npath = '{DETECTOR}'\n[decoder]\nmax_detections = 5\n"
    )
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert (
        "decoder centernet {'score_threshold': 0.4, 'max_detections': 5, "
        "'iou_threshold': 0.5, 'agnostic_nms': True, 'heads': 'by-shape', 'num_classes': 10}"
        in done.stdout
    )


def test_manifest_values_stay_unless_set_by_name() -> None:
    """The anomaly threshold is calibrated by the converter: it changes only when
    ``threshold`` itself is set; the classifier's manifest threshold survives a top_k."""
    calibrated = load_model(ModelConfig(path=ANOMALY))
    assert calibrated.manifest.decoder.params["threshold"] == pytest.approx(0.10752, abs=1e-5)
    calibrated.close()
    explicit = load_model(ModelConfig(path=ANOMALY), DecoderConfig(threshold=0.5))
    assert explicit.manifest.decoder.params == {"threshold": 0.5}
    explicit.close()
    cnn = load_model(ModelConfig(), DecoderConfig(top_k=3))
    assert cnn.manifest.decoder.params == {"top_k": 3, "threshold": 0.5, "activation": "none"}
    cnn.close()


def test_manifest_values_of_another_decoder_are_not_carried_over() -> None:
    """The detector's manifest calibrates centernet's score_threshold (0.4); choosing
    another decoder starts from that decoder's own defaults."""
    model = load_model(ModelConfig(path=DETECTOR), DecoderConfig(name="yolov8"))
    assert model.manifest.decoder.name == "yolov8"
    assert model.manifest.decoder.params["score_threshold"] == 0.25
    model.close()
    assert (
        resolve_params(
            "centernet", {"score_threshold": 0.4, "heads": "by-shape", "future_key": 1}, {}
        ).model_dump()["score_threshold"]
        == 0.4
    )  # unknown manifest keys (a newer converter) are dropped


@pytest.mark.parametrize(
    ("flags", "table"),
    [
        (["score_threshold=0.4"], {"score_threshold": 0.4}),
        (["max_detections=7", "label_offset=1"], {"max_detections": 7, "label_offset": 1}),
        (["coordinates=pixels"], {"coordinates": "pixels"}),
        (['output="Identity"'], {"output": "Identity"}),
        (["activation = none"], {"activation": "none"}),
    ],
)
def test_decoder_opt_reads_values_as_toml(flags: list[str], table: dict[str, object]) -> None:
    assert decoder_overrides(None, flags) == table
    assert decoder_overrides("ssd", flags) == {"name": "ssd", **table}


def test_decoder_opt_needs_key_and_value() -> None:
    with pytest.raises(UsageError, match="is not KEY=VALUE"):
        decoder_overrides(None, ["score_threshold"])


def test_unknown_key_with_a_name_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="decoder 'ssd' has no setting 'top_k'"):
        load_config(None, {"decoder": {"name": "ssd", "top_k": 2}})


def _reload_until_swapped(reloader: Reloader, pipeline: Pipeline, inference: Inference) -> None:
    """Ask for a reload and run the reloader's tick until the model changed (30 s)."""
    reloader.request()
    deadline = time.monotonic() + 30
    while pipeline.inference is inference and time.monotonic() < deadline:
        reloader(RunStats())
        time.sleep(0.02)


def test_reload_carries_the_new_decoder_settings() -> None:
    """SIGHUP's reload builds the new model with the new [decoder] table (and filters)."""
    running = load_config(None)
    changed = load_config(None, {"decoder": {"top_k": 4, "threshold": 0.0}})
    model, inference = open_inference(running)
    pipeline = Pipeline(
        SyntheticCamera(fps=None),
        inference,
        [MemorySink()],
        RecordContext("test", "m", "0" * 64, "classify"),
        [],
    )
    reloader = Reloader(running, lambda: changed)
    reloader.attach(pipeline)
    try:
        _reload_until_swapped(reloader, pipeline, inference)
        assert isinstance(pipeline.inference, Inference)
        assert pipeline.inference is not inference
        params = pipeline.inference.params
        assert isinstance(params, ClassifyParams)
        assert (params.top_k, params.threshold, params.activation) == (4, 0.0, "none")
        assert reloader.refusals == 0
    finally:
        reloader.close()
        model.close()


def test_check_config_runs_the_decoder_once(run_edge: RunEdge, tmp_path: Path) -> None:
    """A decoder that does not fit the model's outputs is refused by check-config too."""
    (tmp_path / "edge.toml").write_text("[decoder]\nname = 'ssd'\n")
    for command in (
        ["check-config", "edge.toml"],
        ["run", "--config", "edge.toml", "--max-frames", "1"],
    ):
        done = run_edge(command)
        assert done.returncode == 78, (command, done.stderr)
        assert "the ssd decoder expects four outputs" in done.stderr


def test_decoder_opt_without_value_is_a_usage_error(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--decoder-opt", "top_k", "--max-frames", "1"])
    assert done.returncode == 2
    assert "--decoder-opt 'top_k' is not KEY=VALUE" in done.stderr and "fix:" in done.stderr


def test_decoder_alone_says_the_task_of_a_model_without_manifest(
    run_edge: RunEdge, tmp_path: Path, plain_tflite: Path
) -> None:
    done = run_edge(
        [
            "run",
            "--model",
            str(plain_tflite),
            "--decoder",
            "classify",
            "--decoder-opt",
            "top_k=2",
            "--max-frames",
            "2",
            "--sink",
            "jsonl:o.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert [r["model"]["task"] for r in records] == ["classify", "classify"]
    assert all(len(r["detections"]) == 2 for r in records)


def test_a_reload_frees_the_model_it_replaces() -> None:
    """The model the run started with is closed at the swap, not kept until exit: a Pi
    must never hold two interpreters after a SIGHUP."""
    running = load_config(None)
    model, inference = open_inference(running)
    pipeline = Pipeline(
        SyntheticCamera(fps=None),
        inference,
        [MemorySink()],
        RecordContext("test", "m", "0" * 64, "classify"),
        [],
        release=model.close,  # the pipeline owns the start model, as in app.run
    )
    reloader = Reloader(running, lambda: running)
    reloader.attach(pipeline)
    zeros = [np.zeros(spec.shape, spec.dtype) for spec in model.backend.inputs]
    model.backend.infer(zeros)  # open before the swap
    try:
        _reload_until_swapped(reloader, pipeline, inference)
        assert pipeline.inference is not inference and reloader.reloads == 1
        with pytest.raises(BackendError, match="closed"):  # freed at the swap
            model.backend.infer(zeros)
    finally:
        reloader.close()  # the new model stays with the pipeline, which never ran
