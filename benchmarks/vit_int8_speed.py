"""Why the int8 ViT is slower than float32 under ai_edge_litert, step by step.

``python -m benchmarks.vit_int8_speed [--model models/zoo/digits-vit.keras]``

Converts the ViT (batch-1 SavedModel, the converter's path) to float32 and to int8
three ways: as trained (Keras LayerNormalization), with ``converter.rewrite``'s
LayerNorm rewrite, and with that plus ``symmetric_batch_matmul_rhs``. For each it
prints the held-out accuracy (LiteRT), the ops that compute in float, the ops that run
OUTSIDE XNNPACK (found by walking back from the outputs through the execution plan:
a tensor made by a DELEGATE node was computed by XNNPACK, any other producer is a
builtin kernel), and the median ``invoke()`` latency (1 thread, interleaved rounds,
because this 2-core VM is noisy). Results: docs/int8-speed.md.
"""

from __future__ import annotations

import argparse
import collections
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from converter.calibration import Calibration
from converter.measure import float_ops, median_latency_ms
from converter.quiet import import_tensorflow, native_output_captured

ZOO = Path(__file__).resolve().parent.parent / "models" / "zoo"


def ops_outside_xnnpack(content: bytes) -> dict[str, int]:
    """Op name -> count of the ops the XNNPACK-delegated interpreter runs itself
    (``DELEGATE`` counts the XNNPACK partitions)."""
    from ai_edge_litert.interpreter import Interpreter

    with native_output_captured():
        interpreter = Interpreter(model_content=content, num_threads=1)
        interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    producer = {int(t): op for op in ops if op["op_name"] == "DELEGATE" for t in op["outputs"]}
    for op in ops:
        for t in op["outputs"]:
            producer.setdefault(int(t), op)
    stack = [int(d["index"]) for d in interpreter.get_output_details()]
    seen: set[int] = set()
    executed: dict[int, str] = {}
    while stack:
        tensor = stack.pop()
        if tensor in seen or tensor not in producer:
            continue
        seen.add(tensor)
        node = producer[tensor]
        executed[int(node["index"])] = str(node["op_name"])
        stack.extend(int(t) for t in node["inputs"] if t >= 0)
    return dict(sorted(collections.Counter(executed.values()).items()))


def accuracy(content: bytes, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    from ai_edge_litert.interpreter import Interpreter

    with native_output_captured():
        interpreter = Interpreter(model_content=content, num_threads=2)
        interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    scale, zero = inp["quantization"]
    hits = 0
    for image, label in zip(x, y, strict=True):
        value = image[None] if not scale else np.round(image[None] / scale + zero)
        interpreter.set_tensor(inp["index"], value.astype(inp["dtype"]))
        interpreter.invoke()
        hits += int(interpreter.get_tensor(out["index"])[0].argmax() == label)
    return hits / len(y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ZOO / "digits-vit.keras")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import_tensorflow()
    import keras

    import models.vit  # noqa: F401  (registers the custom layers)
    from converter.quantize import convert_saved_model, exported_saved_model
    from converter.rewrite import rewrite_for_quantization, symmetric_batch_matmul_rhs
    from models.augment import Augmentation
    from models.data import DEFAULT_SEED, split_digits

    split = split_digits()
    x_train, _ = split.part("train")
    x_hold, y_hold = split.part("holdout")
    pick = np.linspace(0, len(x_train) - 1, 200).round().astype(np.int64)
    # The same 200 augmented training digits as models.train_vit's calibration.
    cal_x = Augmentation()(x_train[pick], np.random.default_rng(DEFAULT_SEED + 1))
    calibration = Calibration(cal_x[..., None].astype(np.float32), "augmented training digits")
    model = keras.saving.load_model(args.model, compile=False)
    rewritten, notes = rewrite_for_quantization(model, calibration.x)
    print("rewrite:", *notes)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    variants: dict[str, bytes] = {}
    for label, keras_model in (("keras LayerNorm", model), ("LN rewritten", rewritten)):
        with exported_saved_model(keras_model, shape, "pixels") as saved:
            if label == "keras LayerNorm":
                variants["float32"] = convert_saved_model(saved, "float32")
            variants[f"int8, {label}"] = convert_saved_model(saved, "int8", calibration=calibration)
    symmetric, notes = symmetric_batch_matmul_rhs(variants["int8, LN rewritten"])
    print("after conversion:", *notes)
    variants["int8, LN rewritten + symmetric matmul"] = symmetric
    x = x_hold[..., None].astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, content in variants.items():
            times[name].append(median_latency_ms(content, min_seconds=0.7))
    for name, content in variants.items():
        print(
            f"\n{name}: {len(content) / 1024:.0f} KB, held-out accuracy "
            f"{accuracy(content, x, y_hold):.4f}, median invoke "
            f"{statistics.median(times[name]):.3f} ms (rounds: "
            f"{', '.join(f'{t:.3f}' for t in times[name])})"
        )
        print(f"  float ops: {collections.Counter(float_ops(content)) or 'none'}")
        print(f"  outside XNNPACK: {ops_outside_xnnpack(content)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
