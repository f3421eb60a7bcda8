"""The ``detect`` task: boxes + classes, judged by mAP@0.5.

Evaluation data (``--eval``): an ``.npz`` with
- ``x``: ``(N, H, W, C)`` float32 model inputs (what the Keras model takes: raw pixels
  for the project's models);
- ``boxes``: ``(M, 4)`` float32 ground-truth boxes ``x0, y0, x1, y1`` normalised 0..1 to
  the model input;
- ``classes``: ``(M,)`` integer class ids;
- ``image_index``: ``(M,)`` integers, the image each box belongs to (images may have
  none).

Heads (``head_of``): told apart by the device's own rule
(``edge.decoders.heads.guess_decoder``, given the output shapes only, so the YOLO family
comes from the layout), so the converter and the device agree on the head: the
project's centernet-style head (a class heatmap ``(G, G, C)`` and boxes ``(G, G, 4)``),
or one YOLO head of rank 2 per image: ``[4 + C, N]`` (the Ultralytics YOLOv8/YOLO11
layout, channels first) is ``yolov8``, ``[N, 5 + C]`` (the YOLOv5 layout) is ``yolov5``;
or an SSD-style model ending in the four outputs of TF-Lite's
``TFLite_Detection_PostProcess`` (boxes ``(K, 4)`` ymin, xmin, ymax, xmax normalised,
classes ``(K,)``, scores ``(K,)``, count ``(1,)``; anchors/priors are decoded inside the
model, as that op does) is ``ssd``. Any other outputs are taken for the centernet head,
which ``check_outputs`` then refuses with the shapes it needs. The ssd decoder finds the
four by shape and content, here as on the device, so the converter reads them exactly
as the device will. An SSD
head does not say how many classes it has: without ``--labels`` the manifest carries no
labels and the device reports class numbers; with ``--labels``, a class id of the float
model outside the label list is refused before anything is written.
Decoding uses THE device's decoder for that head
(``edge.decoders.registry.get_decoder``) on each image's outputs, with the identity
placement of the model input (eval images are model inputs), so the numbers here are
what the device would produce. For YOLO heads the box unit (pixels of the input or
normalised) is decided once on the float outputs and written into the manifest, so
float, int8 and the device decode alike. For mAP the score threshold is
lowered to ``EVAL_SCORE_THRESHOLD`` (AP integrates over all thresholds); everything
else is the manifest's parameters.

Metrics (``edge.eval.metrics``, shared with ``edge eval``): ``map50``, the mean over the
classes present in the ground truth of the all-point interpolated average precision at
IoU 0.5 (VOC 2010+ / COCO style: greedy matching by descending score, each ground-truth
box matched at most once, a second match is a false positive); plus
``precision``/``recall`` at the device's threshold.
``compare`` adds the quantized/float ``map50_ratio``, the ``agreement`` (fraction of the
float model's device-threshold detections that the quantized model reproduces: same
class, IoU >= 0.5) and per-head output differences. Without labelled eval data
(``y`` None: the calibration inputs) there is no mAP; the gate judges the detections
int8 loses instead, ``1 - agreement`` (``drop_without_labels``).

Labels: without ``--labels``, numbered labels "0".."C-1" from the heatmap's classes
(``default_labels``), so the manifest's ``num_classes`` always fits the model.

The manifest's ``score_threshold`` is ``DEVICE_SCORE_THRESHOLD`` (0.4: on the shipped
detector's held-out scenes it gave the best F1 of 0.2..0.6 in steps of 0.05), the same
value ``precision``/``recall`` are measured at, so the report describes what the device
does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from converter.data import load_arrays, require_exists
from converter.tasks.base import Gate, Outputs, TaskDefaults, TaskEval
from edge.decoders.centernet import DEFAULT_PARAMS
from edge.decoders.heads import guess_decoder
from edge.decoders.params import SsdParams, YoloParams
from edge.decoders.registry import get_decoder, params_model
from edge.errors import ConversionError, DataError
from edge.eval.metrics import (
    EVAL_SCORE_THRESHOLD,
    Predictions,
    Truth,
    map_overrides,
    mean_average_precision,
    precision_recall,
    truth_lists,
)
from edge.model.manifest import DecoderSpec, InputSpec
from edge.processing.preprocess import Placement
from edge.types import TensorSpec

DECODER = "centernet"
DEVICE_SCORE_THRESHOLD = 0.4


YOLO_HEADS = ("yolov8", "yolov5")
SSD = "ssd"


def head_of(output_shapes: Mapping[str, tuple[int, ...]]) -> str:
    """``centernet``, ``yolov8``, ``yolov5`` or ``ssd`` from the output shapes (batch
    excluded): the device's ``guess_decoder``, whose other answers mean centernet here."""
    specs = [
        TensorSpec(name, index, (1, *shape), "float32")
        for index, (name, shape) in enumerate(output_shapes.items())
    ]
    # No input shape: the YOLO family is told by the layout alone, as the converter
    # always did (the device also counts the candidates against the input's grid).
    head, _ = guess_decoder(specs, ())
    return head if head in (SSD, *YOLO_HEADS) else DECODER


def decode_all(outputs: Outputs, params: Mapping[str, Any], head: str = DECODER) -> Predictions:
    """Per image: the device decoder's (boxes, scores, classes) in model-input coordinates."""
    first = next(iter(outputs.values()))
    count = len(first)
    decode = get_decoder(head)
    placement = Placement()
    if head in YOLO_HEADS:  # boxes in input pixels need the input size
        placement = Placement(width=int(params["input_width"]), height=int(params["input_height"]))
        params = {k: v for k, v in params.items() if k not in ("input_width", "input_height")}
    result: Predictions = []
    for i in range(count):
        detections, _ = decode(
            {name: value[i : i + 1] for name, value in outputs.items()}, placement, params
        )
        boxes = detections.xyxy if detections.xyxy is not None else np.zeros((0, 4), np.float32)
        result.append((boxes, detections.confidence, detections.class_id))
    return result


class DetectTask(TaskDefaults):
    without_labels = "the share of the float model's detections int8 lost"
    name = "detect"
    gate = Gate("map50")
    default_max_drop = 0.03  # mAP@0.5 points: int8 keeps >= 97 % of a ~0.9+ float mAP

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.params: dict[str, Any] = {
            **DEFAULT_PARAMS,
            "score_threshold": DEVICE_SCORE_THRESHOLD,
            **(params or {}),
        }
        # A ladder step asks for the same outputs' decoding and mAP up to three times
        # (metrics, compare, plot); decoding thousands of boxes is the task's dear part.
        self._memo: dict[tuple[Any, ...], tuple[tuple[object, ...], Any]] = {}

    def _remembered(self, key: tuple[Any, ...], owners: tuple[object, ...], compute: Any) -> Any:
        """``compute()`` once per key while the same ``owners`` objects are asked about:
        the key holds their ids, and the stored references keep those ids from being
        reused by other objects."""
        held = self._memo.get(key)
        if held is not None and all(a is b for a, b in zip(held[0], owners, strict=True)):
            return held[1]
        if len(self._memo) > 16:  # one ladder step's worth; older steps are done
            self._memo.clear()
        value = compute()
        self._memo[key] = (owners, value)
        return value

    def head_params(
        self, head: str, outputs: Outputs | None = None, data: TaskEval | None = None
    ) -> dict[str, Any]:
        """The decoder parameters for ``head``; YOLO: the box unit from float ``outputs``
        and the input size from ``data``."""
        if head == SSD:  # the device's defaults; NMS and anchors live inside the model
            return SsdParams().model_dump(exclude_none=True)
        if head not in YOLO_HEADS:
            return dict(self.params)
        params: dict[str, Any] = {
            **YoloParams().model_dump(exclude_none=True),
            "layout": "channels-first" if head == "yolov8" else "channels-last",
        }
        if outputs is not None:
            (head_out,) = outputs.values()
            params["coordinates"] = (
                "normalized" if float(np.abs(head_out).max()) <= 2.0 else "pixels"
            )
        if data is not None:
            params["input_height"], params["input_width"] = data.x.shape[1:3]
        return params

    def _decoded(
        self, outputs: Outputs, reference: Outputs, data: TaskEval, **overrides: Any
    ) -> Predictions:
        def compute() -> Predictions:
            head = head_of({k: v.shape[1:] for k, v in outputs.items()})
            params = {**self.head_params(head, reference, data), **overrides}
            return decode_all(outputs, params, head)

        key = ("decoded", id(outputs), id(reference), id(data), tuple(sorted(overrides.items())))
        result: Predictions = self._remembered(key, (outputs, reference, data), compute)
        return result

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        shapes = {name: tuple(shape) for name, shape in output_shapes.items()}
        if head_of(shapes) == SSD:
            return
        if head_of(shapes) in YOLO_HEADS:
            channels = min(next(iter(shapes.values())))
            if channels < 5 + (head_of(shapes) == "yolov5"):
                raise ConversionError(
                    f"{source}: a YOLO head needs 4 box values and class "
                    f"scores per candidate; it has {list(shapes.values())}"
                )
            return
        box_heads = [s for s in shapes.values() if len(s) == 3 and s[-1] == 4]
        heat_heads = [s for s in shapes.values() if len(s) == 3 and s[-1] != 4]
        if (
            len(shapes) != 2
            or len(box_heads) != 1
            or len(heat_heads) != 1
            or box_heads[0][:2] != heat_heads[0][:2]
        ):
            raise ConversionError(
                f"{source}: a detect model needs two outputs on one grid, a class heatmap "
                f"(G, G, classes) and boxes (G, G, 4); it has "
                + ", ".join(f"{n} {list(s)}" for n, s in shapes.items()),
                hint="the detect task supports the project's centernet-style head "
                "(models/detector.py), YOLO heads: one output [batch, 4 + classes, "
                "candidates] (YOLOv8/YOLO11) or [batch, candidates, 5 + classes] (YOLOv5), "
                "and SSD-style models ending in the four outputs of TFLite_Detection_"
                "PostProcess: boxes [batch, K, 4], classes [batch, K], scores [batch, K], "
                "count [batch, 1]",
            )

    def default_labels(self, output_shapes: Mapping[str, tuple[int, ...]]) -> list[str] | None:
        """Numbered labels, one per class (the device needs ``num_classes``); None for an
        SSD head, whose shapes do not say how many classes it has."""
        head = head_of(output_shapes)
        if head == SSD:  # class ids, not one score per class: the count is not in the shape
            return None
        if head in YOLO_HEADS:
            (shape,) = output_shapes.values()
            return [str(i) for i in range(min(shape) - (4 if head == "yolov8" else 5))]
        heat = [s for s in output_shapes.values() if len(s) == 3 and s[-1] != 4]
        return [str(i) for i in range(heat[0][-1])] if heat else []

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
        require_exists(path, "evaluation data")
        if path.suffix.lower() != ".npz":
            raise DataError(
                f"detect evaluation data {str(path)!r} must be an .npz",
                hint="arrays x (N, H, W, C), boxes (M, 4) normalised xyxy, classes (M,), "
                "image_index (M,)",
            )
        arrays = load_arrays(path, ["x", "boxes", "classes", "image_index"])
        x = np.asarray(arrays["x"], np.float32)
        shape = (spec.height, spec.width, spec.channels)
        if x.ndim == 3 and spec.channels == 1:
            x = x[..., np.newaxis]
        if x.shape[1:] != shape:
            raise DataError(
                f"{path}: x has shape {list(x.shape)}, the model takes "
                f"[N, {', '.join(map(str, shape))}]"
            )
        boxes = np.asarray(arrays["boxes"], np.float32).reshape(-1, 4)
        classes = np.asarray(arrays["classes"], np.int64).reshape(-1)
        owner = np.asarray(arrays["image_index"], np.int64).reshape(-1)
        if not len(boxes) == len(classes) == len(owner):
            raise DataError(f"{path}: boxes, classes and image_index must have one row per box")
        if len(owner) and (owner.min() < 0 or owner.max() >= len(x)):
            raise DataError(f"{path}: image_index must lie in 0..{len(x) - 1}")
        if len(classes) and not labels:
            raise DataError(
                f"{path}: has class ids, but the model's labels are not known",
                hint="give --labels (one name per line, in class-id order)",
            )
        if len(classes) and (classes.min() < 0 or classes.max() >= len(labels)):
            raise DataError(f"{path}: class ids must lie in 0..{len(labels) - 1}")
        return TaskEval(x, truth_lists(boxes, classes, owner, len(x)), str(path))

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        if data.y is None:  # no labelled eval data: judged by agreement with float
            return {}
        result: dict[str, float] = self._remembered(
            ("metrics", id(outputs), id(data)),
            (outputs, data),
            lambda: self._measure(outputs, data),
        )
        return dict(result)

    def _measure(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        head = head_of({k: v.shape[1:] for k, v in outputs.items()})
        protocol = map_overrides(params_model(head).model_fields)
        predictions = self._decoded(outputs, outputs, data, **protocol)
        # Precision and recall describe the device: its threshold and its NMS.
        device = self._decoded(outputs, outputs, data, score_threshold=EVAL_SCORE_THRESHOLD)
        precision, recall = precision_recall(
            device, data.y, float(self.head_params(head)["score_threshold"])
        )
        return {
            "map50": mean_average_precision(predictions, data.y)["map"],
            "precision": precision,
            "recall": recall,
        }

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        ratio: dict[str, float] = {}
        if data.y is not None:
            float_map = self.metrics(float_outputs, data)["map50"]
            quant_map = self.metrics(quant_outputs, data)["map50"]
            ratio["map50_ratio"] = quant_map / float_map if float_map > 0 else 0.0
        float_pred = self._decoded(float_outputs, float_outputs, data)
        quant_pred = self._decoded(quant_outputs, float_outputs, data)
        reference: Truth = [(boxes, classes) for boxes, _, classes in float_pred]
        _, agreement = precision_recall(quant_pred, reference, 0.0)
        if not any(len(boxes) for boxes, _ in reference):
            # Nothing to reproduce: agreeing means finding nothing either.
            agreement = float(not any(len(boxes) for boxes, _, _ in quant_pred))
        diffs = {
            f"{name}_max_abs_diff": float(np.abs(float_outputs[name] - quant_outputs[name]).max())
            for name in float_outputs
        }
        return {
            **ratio,
            "agreement": agreement,
            "float_detections": sum(len(boxes) for boxes, _ in reference),
            **diffs,
        }

    def drop_without_labels(self, compare: Mapping[str, Any]) -> float | None:
        """Without labels: the share of the float model's detections int8 loses."""
        agreement = compare.get("agreement")
        return None if agreement is None else 1.0 - float(agreement)

    def decoder(self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]) -> DecoderSpec:
        head = head_of({k: v.shape[1:] for k, v in float_outputs.items()})
        if head == SSD:
            _check_ssd_classes(self._decoded(float_outputs, float_outputs, data), labels)
            return DecoderSpec(name=SSD, params=self.head_params(SSD))
        if head in YOLO_HEADS:
            params = {k: v for k, v in self.head_params(head, float_outputs).items()}
            return DecoderSpec(name=head, params=params)
        # Tensor names are left out: the device finds the heads by shape.
        params = {k: v for k, v in self.params.items() if k not in ("heatmap", "boxes")}
        return DecoderSpec(name=DECODER, params={**params, "num_classes": len(labels)})

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None:
        self.figure(float_outputs, quant_outputs, data, labels).savefig(path, dpi=80)

    def figure(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
    ) -> Any:
        """The report's picture as a matplotlib ``Figure``: up to 8 scenes, float and
        quantized boxes and labels."""
        # A bare Figure renders to a file without pyplot: no global backend is chosen,
        # so a caller of the library (a notebook, a GUI) keeps its own.
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        shown = min(8, len(data.x))
        float_pred = self._decoded(
            {k: v[:shown] for k, v in float_outputs.items()}, float_outputs, data
        )
        quant_pred = self._decoded(
            {k: v[:shown] for k, v in quant_outputs.items()}, float_outputs, data
        )
        fig = Figure(figsize=(12, 6.4))
        axes = fig.subplots(2, 4)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i >= shown:
                continue
            image = data.x[i, :, :, 0] if data.x.shape[-1] == 1 else data.x[i]
            size = np.asarray([image.shape[1], image.shape[0]] * 2, np.float32)
            ax.imshow(np.clip(image, 0, 255).astype(np.uint8), cmap="gray")
            # Float labels sit above a box's top-left corner, quantized ones below its
            # bottom-right corner: a box both models found keeps both labels readable.
            for (boxes, _, classes), colour, style, above in (
                (float_pred[i], "lime", "-", True),
                (quant_pred[i], "red", "--", False),
            ):
                for box, cls in zip(boxes, classes, strict=True):
                    x0, y0, x1, y1 = box * size
                    ax.add_patch(
                        Rectangle(
                            (x0, y0),
                            x1 - x0,
                            y1 - y0,
                            fill=False,
                            edgecolor=colour,
                            linestyle=style,
                            linewidth=1.2,
                        )
                    )
                    # As the record: the class number when there is no label for it.
                    name = labels[int(cls)] if 0 <= cls < len(labels) else str(int(cls))
                    ax.text(
                        x0 if above else x1,
                        y0 - 1 if above else y1 + 1,
                        name,
                        color=colour,
                        fontsize=8,
                        ha="left" if above else "right",
                        va="bottom" if above else "top",
                        bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "edgecolor": "none"},
                    )
        fig.suptitle(
            "held-out scenes: float (green, label above) vs quantized "
            "(red dashed, label below) detections"
        )
        fig.tight_layout()
        return fig


def _check_ssd_classes(predictions: Predictions, labels: Sequence[str]) -> None:
    """With labels, every class id the float model reports must have one."""
    seen = {int(c) for _, _, classes in predictions for c in classes}
    if labels and seen and max(seen) >= len(labels):
        raise DataError(
            f"the model reports class id {max(seen)}, but the labels list has "
            f"{len(labels)} entries (ids 0..{len(labels) - 1})",
            hint="an SSD's class 0 is its first real class: drop a '???' background line "
            "from the labels file, or give one label per class",
        )


DETECT = DetectTask()
