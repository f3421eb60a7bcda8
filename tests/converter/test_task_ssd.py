"""An SSD-style detector built in the test (``ssd_model``: anchors decoded inside the
model, ending in the four ``TFLite_Detection_PostProcess`` outputs) under ``--task
detect``: evaluated through the device's ``ssd`` decoder (mAP against float on labelled
data, box agreement without), the manifest names that decoder, and ``edge run`` (real
LiteRT) reports exactly the detections the converter evaluated on the same pictures; the
same detector as a SavedModel folder converts without labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import RunEdge, read_jsonl

CUSTOM = "tests.converter.ssd_model"


@pytest.fixture(scope="module")
def ssd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.converter import ssd_model

    folder = tmp_path_factory.mktemp("ssd")
    model = ssd_model.build(folder)
    rng = np.random.default_rng(0)
    # Whole pixel values, so the PNGs the device reads hold exactly these inputs.
    x = rng.integers(0, 256, (28, ssd_model.SIZE, ssd_model.SIZE, 1)).astype(np.float32)
    np.save(folder / "cal.npy", x[:16])
    np.save(folder / "held.npy", x[16:])
    (folder / "labels.txt").write_text("cat\ndog\nbird\n")
    return model


def test_ssd_converts_with_map_against_float_and_the_device_decodes_it_alike(
    ssd: Path, tmp_path: Path, run_edge: RunEdge
) -> None:
    from converter.convert import ConvertRequest, convert
    from converter.evaluate import tflite_outputs
    from converter.source_model import load_source_model
    from converter.tasks.detect import DETECT, decode_all, head_of
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    folder = ssd.parent
    held = np.load(folder / "held.npy")
    source = load_source_model(ssd, custom_objects=CUSTOM)
    float_out = source.predict(held)
    shapes = {k: v.shape[1:] for k, v in float_out.items()}
    assert head_of(shapes) == "ssd"
    # Eval truth: the float model's own detections at the device's threshold.
    truth = decode_all(float_out, DETECT.head_params("ssd"), "ssd")
    boxes = np.concatenate([b for b, _, _ in truth])
    assert len(boxes) >= 10
    np.savez(
        tmp_path / "eval.npz",
        x=held,
        boxes=boxes,
        classes=np.concatenate([c for _, _, c in truth]),
        image_index=np.concatenate([[i] * len(b) for i, (b, _, _) in enumerate(truth)]),
    )
    out = tmp_path / "ssd.tflite"
    report = convert(ConvertRequest(
        model=ssd, calibration=folder / "cal.npy", eval=tmp_path / "eval.npz", task="detect",
        labels=["cat", "dog", "bird"], out=out, custom_objects=CUSTOM, progress=False,
        latency_seconds=0.02))  # fmt: skip
    assert report.mode == "int8", report.gate["reason"]
    assert report.metrics["float"]["map50"] == pytest.approx(1.0)
    ratio = report.comparison["map50_ratio"]
    assert 0.9 <= ratio <= 1.0, report.comparison
    assert report.comparison["agreement"] >= 0.9
    assert "map50 fell by" in report.gate["reason"]
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.task == "detect" and manifest.decoder.name == "ssd"
    assert manifest.labels == ["cat", "dog", "bird"]
    assert manifest.decoder.params["score_threshold"] == 0.5

    # What the converter evaluated: the int8 bytes' outputs through the ssd decoder.
    content = out.read_bytes()
    quant = tflite_outputs(content, held, None, source.tflite_names, source.output_shapes)
    expected = decode_all(quant, manifest.decoder.params, "ssd")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, image in enumerate(held):
        cv2.imwrite(str(frames / f"{i:03d}.png"), image.astype(np.uint8))
    done = run_edge(
        ["run", "--model", str(out), "--source", str(frames), "--sink", "jsonl:o.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert len(records) == len(held)
    assert sum(len(r["detections"]) for r in records) >= 10
    for record, (boxes_i, scores_i, classes_i) in zip(records, expected, strict=True):
        got = record["detections"]
        assert [d["label"] for d in got] == [manifest.labels[int(c)] for c in classes_i]
        assert [d["score"] for d in got] == pytest.approx(scores_i.tolist(), abs=1e-4)
        if len(got):
            assert np.asarray([d["box"] for d in got]) == pytest.approx(
                np.clip(boxes_i, 0, 1), abs=1e-4
            )


def test_ssd_saved_model_without_labels_is_judged_by_agreement_and_reports_class_numbers(
    ssd: Path, tmp_path: Path, run_edge: RunEdge
) -> None:
    """The same detector as a SavedModel folder (how third-party detectors often come):
    no custom objects needed, the signature keeps the output names."""
    import keras

    from converter.convert import ConvertRequest, convert
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    saved = tmp_path / "ssd_saved_model"
    keras.saving.load_model(ssd).export(str(saved), format="tf_saved_model", verbose=False)
    out = tmp_path / "ssd.tflite"
    report = convert(ConvertRequest(
        model=saved, calibration=ssd.parent / "cal.npy", task="detect", out=out,
        progress=False, latency_seconds=0.02))  # fmt: skip
    assert report.mode == "int8" and report.gate["basis"] != "eval"
    assert report.comparison["agreement"] >= 0.9
    assert report.gate["reason"].startswith("with no labelled eval data")
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.decoder.name == "ssd" and manifest.labels == []
    done = run_edge(["run", "--model", str(out), "--max-frames", "3", "--sink", "jsonl:o.jsonl"])
    assert done.returncode == 0, done.stderr
    labels = {d["label"] for r in read_jsonl(tmp_path / "o.jsonl") for d in r["detections"]}
    assert labels <= {"0", "1", "2"}


def test_ssd_labels_that_do_not_cover_its_classes_are_refused(ssd: Path, tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert
    from edge.errors import DataError

    out = tmp_path / "ssd.tflite"
    with pytest.raises(DataError, match="reports class id 2, but the labels list has 1") as err:
        convert(
            ConvertRequest(
                model=ssd,
                calibration=ssd.parent / "cal.npy",
                task="detect",
                labels=["cat"],
                out=out,
                custom_objects=CUSTOM,
                mode="int8",
                progress=False,
                latency_seconds=0.02,
            )
        )
    assert err.value.hint is not None and "'???'" in err.value.hint
    assert not out.exists()


def test_eval_boxes_with_classes_need_labels_when_the_head_cannot_count_them(
    tmp_path: Path,
) -> None:
    from converter.tasks.detect import DETECT
    from edge.errors import DataError
    from edge.model.manifest import InputSpec

    np.savez(
        tmp_path / "eval.npz",
        x=np.zeros((2, 8, 8, 1), np.float32),
        boxes=np.asarray([[0.1, 0.1, 0.5, 0.5]], np.float32),
        classes=np.asarray([1]),
        image_index=np.asarray([0]),
    )
    spec = InputSpec(width=8, height=8, channels=1, colour="gray")
    with pytest.raises(DataError, match="labels are not known") as err:
        DETECT.load_eval(tmp_path / "eval.npz", spec, [])
    assert err.value.hint is not None and "--labels" in err.value.hint
    assert len(DETECT.load_eval(tmp_path / "eval.npz", spec, ["a", "b"])) == 2
