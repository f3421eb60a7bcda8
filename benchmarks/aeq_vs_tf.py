"""AI Edge Quantizer (``ai-edge-quantizer``) against the TF converter's full int8.

For each model: one batch-1 SavedModel (the converter's own export, after its
quantization rewrites), one calibration set, then
- ``tf-int8``: ``TFLiteConverter`` full integer (``converter.quantize``, mode int8);
- ``aeq-int8``: the float32 ``.tflite`` of the same SavedModel quantized by
  ``ai_edge_quantizer`` with its ``static_wi8_ai8`` recipe (int8 weights and
  activations; float input/output with QUANTIZE/DEQUANTIZE at the edges).
Both are run through the device's path (``converter.evaluate.tflite_outputs``) and
compared with the float Keras model: top-1 agreement, accuracy, the int8 share of ops and
parameters (``converter.measure.int8_share``), size and median latency (1 thread).

Models: the shipped CNN and ViT (calibration: 200 evenly spaced training digits;
held-out: the 1,000 shipped ``digits-holdout.npz``), and the int8-sensitive third-party
classifier of ``tests/converter/test_ladder_mixed.py`` (rebuilt here the same way).

ai-edge-quantizer is not a dependency of the project: install it beside the venv and
put it LAST on the path, so it cannot shadow the venv's TensorFlow/LiteRT:

    pip install --target /tmp/conv-extra ai-edge-quantizer
    PYTHONPATH=$PWD:/tmp/conv-extra python benchmarks/aeq_vs_tf.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "models" / "zoo"


def sensitive_model(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The classifier of tests/converter/test_ladder_mixed.py: (path, calibration, eval x)."""
    from tests.converter.sensitive_model import build

    build(folder)
    with np.load(folder / "cal.npz") as cal, np.load(folder / "eval.npz") as held_out:
        return folder / "sensitive.h5", cal["x"], held_out["x"]


def aeq_int8(float_bytes: bytes, calibration: np.ndarray) -> bytes:
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    interpreter = Interpreter(model_content=float_bytes)
    (signature,) = interpreter.get_signature_list().items()
    key, spec = signature
    (input_name,) = spec["inputs"]
    q = quantizer.Quantizer(bytearray(float_bytes), recipe.static_wi8_ai8())
    result = q.calibrate({key: [{input_name: sample[None]} for sample in calibration]})
    return bytes(q.quantize(result, enable_progress_report=False).quantized_model)


def measure(
    name: str, model_path: Path, calibration: np.ndarray, x: np.ndarray, y: np.ndarray | None
) -> dict[str, Any]:
    from converter.calibration import Calibration
    from converter.evaluate import float_outputs, tflite_outputs
    from converter.measure import int8_share, median_latency_ms
    from converter.quantize import convert_saved_model
    from converter.rewrite import rewrite_for_quantization
    from converter.source_model import load_source_model

    source = load_source_model(model_path)
    keras_model, _ = rewrite_for_quantization(source.keras_model, calibration[:32], enabled=True)
    reference = next(iter(float_outputs(source, x, None).values())).argmax(axis=1)
    cal = Calibration(calibration.astype(np.float32), f"{name} calibration")
    rows: dict[str, Any] = {}
    with source.saved_model(keras_model) as saved:
        float_bytes = convert_saved_model(saved, "float32")
        candidates = {
            "tf-int8": lambda: convert_saved_model(saved, "int8", calibration=cal),
            "aeq-int8": lambda: aeq_int8(float_bytes, cal.x),
        }
        for label, make in candidates.items():
            try:
                content = make()
                out = tflite_outputs(content, x, None, source.tflite_names, source.output_shapes)
            except Exception as exc:  # a failure is a result here
                rows[label] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                continue
            top1 = next(iter(out.values())).argmax(axis=1)
            share = int8_share(content)
            rows[label] = {
                "agreement": float(np.mean(top1 == reference)),
                "accuracy": None if y is None else float(np.mean(top1 == y)),
                "int8_ops": round(share.ops, 3),
                "int8_params": round(share.params, 3),
                "size_kb": round(len(content) / 1024, 1),
                "latency_ms": round(median_latency_ms(content, min_seconds=0.3), 3),
            }
    rows["float_accuracy"] = None if y is None else float(np.mean(reference == y))
    return rows


def main() -> None:
    import tempfile

    from converter.quiet import import_tensorflow

    import_tensorflow()
    import models.vit  # noqa: F401  (registers the ViT's custom layers)
    from models.data import split_digits

    split = split_digits()
    x_train, _ = split.part("train")
    pick = np.linspace(0, len(x_train) - 1, 200).round().astype(np.int64)
    calibration = x_train[pick, ..., None].astype(np.float32)
    hold = np.load(ZOO / "digits-holdout.npz")
    x_hold, y_hold = hold["x"][..., None].astype(np.float32), hold["y"]
    results = {}
    for name in ("digits-cnn", "digits-vit"):
        results[name] = measure(name, ZOO / f"{name}.keras", calibration, x_hold, y_hold)
        print(name, json.dumps(results[name]), file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        path, cal, x = sensitive_model(Path(tmp))
        results["sensitive-sepconv"] = measure("sensitive", path, cal, x, None)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
