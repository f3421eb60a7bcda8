"""Task ``anomaly``: ROC-AUC against hand-computed cases, threshold, data checks, and one
int8 conversion of a tiny untrained score model through ``convert``."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from converter.tasks.anomaly import ANOMALY, normal_threshold
from converter.tasks.base import TaskEval
from converter.tasks.registry import TASKS
from edge.errors import ConversionError, DataError
from edge.eval.metrics import average_ranks, rates, roc_auc
from edge.model.manifest import InputSpec

SPEC = InputSpec(width=28, height=28, channels=1, colour="gray")


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),  # perfect ranking
        ([0.8, 0.9, 0.1, 0.2], [0, 0, 1, 1], 0.0),  # perfectly wrong
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of 4 pairs ordered
        ([1.0, 1.0, 2.0], [0, 1, 1], 0.75),  # one tie (1/2) + one win, over 2 pairs
        ([5.0, 5.0, 5.0, 5.0], [0, 1, 0, 1], 0.5),  # all tied: chance
    ],
)
def test_roc_auc_hand_computed(scores: list[float], labels: list[int], expected: float) -> None:
    assert roc_auc(scores, labels) == pytest.approx(expected)


def test_roc_auc_equals_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 60).astype(np.float64)  # many ties
    labels = rng.integers(0, 2, 60)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    assert roc_auc(scores, labels) == pytest.approx(np.mean(pairs))


def test_average_ranks_share_ties() -> None:
    np.testing.assert_array_equal(
        average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0]
    )


def test_roc_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="positive and one negative"):
        roc_auc([0.1, 0.2], [0, 0])


def test_threshold_and_rates() -> None:
    scores = np.r_[np.arange(100, dtype=np.float64), [500.0, 50.0]]
    labels = np.r_[np.zeros(100, np.int64), [1, 1]]
    threshold = normal_threshold(scores, labels)
    assert threshold == pytest.approx(np.quantile(np.arange(100), 0.99))
    assert rates(scores, labels, threshold) == {"tpr": 0.5, "fpr": pytest.approx(0.01)}
    assert normal_threshold([1.0, 2.0, 3.0], None, quantile=0.5) == 2.0  # no labels: all normal


def test_registered_with_its_gate() -> None:
    assert TASKS["anomaly"] is ANOMALY
    assert (ANOMALY.gate.metric, ANOMALY.gate.higher_is_better) == ("roc_auc", True)
    assert ANOMALY.default_max_drop == 0.02


def test_check_outputs() -> None:
    ANOMALY.check_outputs({"anomaly_score": (1,)}, "m.keras")
    with pytest.raises(ConversionError, match="one score per image"):
        ANOMALY.check_outputs({"a": (1,), "b": (1,)}, "m.keras")
    with pytest.raises(ConversionError, match="does not look like an anomaly model"):
        ANOMALY.check_outputs({"probs": (10,)}, "m.keras")


def test_load_eval(tmp_path: Path) -> None:
    x = np.zeros((4, 28, 28), np.uint8)
    good = tmp_path / "good.npz"
    np.savez(good, x=x, y=np.array([0, 0, 1, 1]))
    data = ANOMALY.load_eval(good, SPEC, [])
    assert data.x.shape == (4, 28, 28, 1) and data.y.tolist() == [0, 0, 1, 1]
    for name, y, message in (
        ("one.npz", [0, 0, 0, 0], "needs both kinds"),
        ("bad.npz", [0, 2, 1, 1], "0 \\(normal\\) or 1"),
    ):
        np.savez(tmp_path / name, x=x, y=np.array(y))
        with pytest.raises(DataError, match=message):
            ANOMALY.load_eval(tmp_path / name, SPEC, [])
    with pytest.raises(DataError, match=r"\.npz"):
        ANOMALY.load_eval(tmp_path, SPEC, [])


def test_metrics_compare_decoder_and_plot(tmp_path: Path) -> None:
    y = np.r_[np.zeros(200, np.int64), np.ones(50, np.int64)]
    rng = np.random.default_rng(1)
    f = np.r_[rng.uniform(0, 1, 200), rng.uniform(0.8, 2, 50)].astype(np.float32)
    q = (np.round(f * 20) / 20).astype(np.float32)  # a coarse "int8" copy
    data = TaskEval(np.zeros((250, 28, 28, 1), np.float32), y, "test")
    fo, qo = {"anomaly_score": f[:, None]}, {"anomaly_score": q[:, None]}
    assert ANOMALY.metrics(fo, data)["roc_auc"] == pytest.approx(roc_auc(f, y))
    compared = ANOMALY.compare(fo, qo, data)
    assert compared["threshold"] == pytest.approx(np.quantile(f[:200], 0.99))
    assert 0.9 < compared["agreement"] <= 1.0
    assert compared["float_fpr"] == pytest.approx(0.01, abs=0.006)
    assert all(not isinstance(v, dict) for v in compared.values())  # the report keeps scalars
    decoder = ANOMALY.decoder(fo, data, [])
    assert decoder.name == "anomaly"
    assert decoder.params == {"threshold": pytest.approx(compared["threshold"])}
    ANOMALY.plot(fo, qo, data, [], tmp_path / "hist.png")
    assert (tmp_path / "hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tiny_score_model_converts_with_threshold_in_manifest(tmp_path: Path) -> None:
    """An untrained pixels -> score model, int8 through ``convert`` with task anomaly."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from converter.convert import ConvertRequest, convert
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    keras.utils.set_random_seed(0)
    pixels = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(pixels)
    # The shipped model's score head: mean squared residual against a "reconstruction",
    # plus the emptiness term on models.gan.ink (every op must stay int8).
    from models.gan import ink

    rebuilt = keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    residual = keras.layers.Subtract()([x, rebuilt])
    squared = keras.layers.Multiply()([residual, residual])
    error = keras.layers.GlobalAveragePooling2D()(squared)
    emptiness = keras.layers.ReLU()(keras.layers.Rescaling(-5.0, offset=0.2)(ink(x)))
    score = keras.layers.Add(name="anomaly_score")([error, emptiness])
    keras.Model(pixels, score).save(tmp_path / "tiny.keras")
    rng = np.random.default_rng(0)
    x_eval = rng.integers(0, 256, (40, 28, 28)).astype(np.uint8)
    x_eval[:20] //= 8  # dark "normal" frames, bright noisy "anomalies"
    np.savez(tmp_path / "eval.npz", x=x_eval, y=np.r_[np.zeros(20), np.ones(20)].astype(int))
    np.savez(tmp_path / "cal.npz", x=x_eval[::2])
    report = convert(
        ConvertRequest(
            model=tmp_path / "tiny.keras",
            calibration=tmp_path / "cal.npz",
            eval=tmp_path / "eval.npz",
            task="anomaly",
            latency_seconds=0.05,
            progress=False,
        )
    )
    assert report.task == "anomaly" and report.mode == "int8" and report.float_ops == []
    assert set(report.metrics["float"]) >= {"roc_auc"}
    assert 0.0 <= report.metrics["quantized"]["roc_auc"] <= 1.0  # type: ignore[operator]
    out = Path(report.out)
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin=str(out))
    assert manifest.task == "anomaly" and manifest.decoder.name == "anomaly"
    assert manifest.decoder.params["threshold"] == pytest.approx(report.comparison["threshold"])
    assert Path(report.plot or "").exists()
