"""Float vs quantized: what quantization cost, measured on held-out data.

The float numbers come from the Keras model itself (the thing the user trained), the
quantized numbers from the converted bytes run by the device's own runtime path:
``edge.model.backends.litert.LiteRTBackend`` with ``edge.processing.preprocess.quantize`` on the
way in and ``edge.model.backends.base.dequantize`` on the way out. A bug in either shows up
here as lost agreement rather than on the device.

Evaluation data (``--eval``): an ``.npz`` with ``x`` (model inputs, as for calibration)
and ``y`` (integer class ids), or a folder with one subfolder of images per label whose
names are entries of the label list (``eval/7/*.png`` -> the class labelled "7").

Outputs are returned by output name, stacked over the samples: ``{name: (N, *shape)}``;
the metrics on them belong to the task (``converter.tasks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
import numpy.typing as npt

from converter.data import (
    IMAGE_SUFFIXES,
    fit_shape,
    image_files,
    load_arrays,
    read_images,
    require_exists,
)
from converter.quiet import native_output_captured
from converter.tasks.base import TaskEval
from edge.errors import ConversionError, DataError
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend, load_interpreter_class
from edge.model.manifest import InputSpec
from edge.processing.preprocess import quantize

if TYPE_CHECKING:
    from converter.source_model import SourceModel

FloatArray = npt.NDArray[np.float32]


def load_eval(path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
    """Read ``--eval`` data for a classifier with ``labels``."""
    require_exists(path, "evaluation data")
    shape = (spec.height, spec.width, spec.channels)
    if path.is_dir():
        return _load_eval_folder(path, spec, labels)
    if path.suffix.lower() != ".npz":
        raise DataError(
            f"evaluation data {str(path)!r} must be an .npz with arrays 'x' and 'y', or a "
            "folder with one subfolder of images per label",
        )
    arrays = load_arrays(path, ["x", "y"])
    x = fit_shape(arrays["x"], shape, f"evaluation data {str(path)!r}")
    y = arrays["y"]
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{str(path)!r}: 'y' must hold one integer class id per sample: got {y.dtype} "
            f"{list(y.shape)} for {len(x)} samples",
        )
    if len(y) and (y.min() < 0 or y.max() >= len(labels)):
        raise DataError(
            f"{str(path)!r}: class ids range {int(y.min())}..{int(y.max())}, but the model "
            f"has {len(labels)} classes (0..{len(labels) - 1})",
        )
    return TaskEval(x, y.astype(np.int64), source=str(path))


def _load_eval_folder(path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
    groups = sorted(p for p in path.iterdir() if p.is_dir())
    unknown = [p.name for p in groups if p.name not in labels]
    if unknown:
        raise DataError(
            f"evaluation folder {str(path)!r} has subfolders {unknown} that are not labels "
            f"of the model ({', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''})",
            hint="name each subfolder after its label, or give --labels FILE",
        )
    files: list[Path] = []
    ids: list[int] = []
    for group in groups:
        found = image_files(group)
        files += found
        ids += [labels.index(group.name)] * len(found)
    if not files:
        raise DataError(
            f"evaluation folder {str(path)!r} contains no images in label subfolders "
            f"(looked for {', '.join(IMAGE_SUFFIXES)})",
            hint="lay it out as EVAL/<label>/<image>, e.g. eval/7/0001.png",
        )
    return TaskEval(read_images(files, spec), np.asarray(ids, np.int64), source=str(path))


def float_outputs(
    model: SourceModel, x: FloatArray, progress: TextIO | None, batch: int = 64
) -> dict[str, FloatArray]:
    """The float model's outputs for ``x``, by output name, stacked over the samples."""
    from tqdm import tqdm

    parts: dict[str, list[FloatArray]] = {}
    starts = range(0, len(x), batch)
    for start in tqdm(
        starts,
        desc="float model",
        unit="batch",
        file=progress,
        leave=False,
        disable=None if progress is not None else True,
    ):
        for name, value in model.predict(x[start : start + batch]).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def tflite_outputs(
    content: bytes,
    x: FloatArray,
    progress: TextIO | None,
    names: Mapping[str, str],
    shapes: Mapping[str, tuple[int, ...]],
) -> dict[str, FloatArray]:
    """The converted model's outputs for ``x``, run the way the device runs it, by name.

    ``names`` maps the TFLite signature's output keys to output names; each output is
    checked against the float model's shape (``shapes``) so a mix-up cannot pass
    silently.
    """
    from tqdm import tqdm

    # LiteRT prints "Created TensorFlow Lite XNNPACK delegate" from C++ on creation.
    with native_output_captured():
        backend = LiteRTBackend(content, threads=2, runtime="ai_edge_litert", origin="converted")
        by_index = _signature_outputs(content)
    try:
        (input_spec,) = backend.inputs
        named: list[tuple[int, str]] = []
        for position, spec in enumerate(backend.outputs):
            key = by_index.get(spec.index)
            if key is None or key not in names:
                raise ConversionError(
                    f"the converted model's output {spec.name!r} (signature key {key!r}) "
                    f"matches none of the model's outputs {sorted(names.values())}"
                )
            name = names[key]
            if tuple(spec.shape[1:]) != tuple(shapes[name]):
                raise ConversionError(
                    f"the converted model's output {key!r} has shape {list(spec.shape)}, but "
                    f"the float model's output {name!r} is [batch, "
                    f"{', '.join(map(str, shapes[name]))}]"
                )
            named.append((position, name))
        out = {name: np.empty((len(x), *shapes[name]), np.float32) for _, name in named}
        for i in tqdm(
            range(len(x)),
            desc="converted model",
            unit="img",
            file=progress,
            leave=False,
            disable=None if progress is not None else True,
        ):
            raw = backend.infer([quantize(x[i : i + 1], input_spec)])
            for position, name in named:
                out[name][i] = dequantize(raw[position], backend.outputs[position])[0]
        return out
    finally:
        backend.close()


def _signature_outputs(content: bytes) -> dict[int, str]:
    """Tensor index -> signature output key (``output_0`` ...) of the default signature."""
    _, interpreter_class = load_interpreter_class("ai_edge_litert")
    interpreter = interpreter_class(model_content=content)
    signatures = interpreter.get_signature_list()
    if not signatures:
        return {}
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    return {int(d["index"]): str(key) for key, d in runner.get_output_details().items()}


def looks_like_probabilities(outputs: FloatArray) -> bool:
    """True when every row is a distribution (a softmax head), within float error."""
    return bool(
        outputs.min() >= -1e-4
        and outputs.max() <= 1 + 1e-4
        and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)
    )
