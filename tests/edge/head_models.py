"""Third-party-format detector models, built with TensorFlow in the test session.

Each model's head is a constant tensor (written below, so the right boxes are known)
plus ``min(mean(input), 0)``, which is 0 for any picture (pixels are >= 0) but keeps the
input in the graph so the converter makes an ordinary one-input model. The formats:

- ``ssd``: the four outputs of TF-Lite's ``TFLite_Detection_PostProcess`` with the
  shapes, dtypes and names of the TF-Lite examples' COCO SSD MobileNet (uint8 quantized
  input; float32 boxes [1,N,4] ymin,xmin,ymax,xmax normalised, classes [1,N], scores
  [1,N], count [1]). The real custom op comes from TF's object-detection export, which
  is not installable here, so the model reproduces its OUTPUT format (the tensors are
  renamed in the flatbuffer to the op's names); rows past ``count`` hold junk with high
  scores, as the real op's padding may, so a decoder that ignores the count fails.
- ``yolov8``: full int8 in and out, one head [1, 4+C, N] (channels first), boxes
  normalised, as Ultralytics' int8 TFLite export writes it; N = 525 is one candidate
  per cell of the stride 8/16/32 grids of a 160x160 input.
- ``yolov5``: float32 in and out, one head [1, 3N, 5+C] (channels last), boxes in input
  pixels, objectness column, as Ultralytics' float TFLite export of YOLOv5 writes it.

All three are run on a 320x180 frame letterboxed into the square input, so the
decoders must undo the letterbox: ``frame_truth`` maps a box from model pixels to the
frame independently of ``edge.processing.preprocess``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FRAME_W, FRAME_H = 320, 180
YOLO_SIZE, SSD_SIZE = 160, 96
YOLO_CELLS = sum((YOLO_SIZE // s) ** 2 for s in (8, 16, 32))  # 525
YOLO_LABELS = ["cat", "dog", "bird"]
COCO_LABELMAP = ["???", "person", "bicycle", "car", "motorcycle", "airplane", "bus"]


@dataclass(frozen=True)
class Truth:
    label: str
    box: tuple[float, float, float, float]  # normalised to the 320x180 frame


def frame_truth(label: str, model_box: tuple[float, float, float, float], size: int) -> Truth:
    """A box in model-input pixels -> normalised to the source frame (letterbox undone)."""
    ratio = min(size / FRAME_W, size / FRAME_H)
    pad_x, pad_y = (size - FRAME_W * ratio) / 2, (size - FRAME_H * ratio) / 2
    x0, y0, x1, y1 = model_box
    return Truth(
        label,
        (
            (x0 - pad_x) / ratio / FRAME_W,
            (y0 - pad_y) / ratio / FRAME_H,
            (x1 - pad_x) / ratio / FRAME_W,
            (y1 - pad_y) / ratio / FRAME_H,
        ),
    )


# --- the heads -----------------------------------------------------------------------

# SSD: (class index, score, box in model pixels x0, y0, x1, y1) for the valid rows.
SSD_ROWS = [
    (0, 0.9, (10.0, 30.0, 40.0, 70.0)),  # person
    (2, 0.8, (50.0, 25.0, 90.0, 60.0)),  # car
    (5, 0.3, (5.0, 30.0, 20.0, 40.0)),
]  # bus, below the 0.5 threshold
SSD_TRUTH = [
    frame_truth("person", SSD_ROWS[0][2], SSD_SIZE),
    frame_truth("car", SSD_ROWS[1][2], SSD_SIZE),
]

# YOLO: (anchor, class, score, objectness, box x0, y0, x1, y1 in model pixels).
YOLO_ROWS = [
    (100, 0, 0.90, 0.95, (20.0, 50.0, 60.0, 100.0)),  # cat
    (101, 0, 0.80, 0.95, (22.0, 52.0, 62.0, 102.0)),  # the same cat, NMS drops it
    (300, 0, 0.60, 0.95, (100.0, 40.0, 150.0, 80.0)),  # a second cat
    (301, 1, 0.70, 0.95, (100.0, 40.0, 150.0, 80.0)),  # a dog on the same spot
    (400, 2, 0.90, 0.10, (60.0, 60.0, 90.0, 90.0)),
]  # yolov5: objectness too low
# One label per object (agnostic_nms, the default): the dog (0.70) suppresses the second
# cat (0.60) on its spot.
YOLOV8_TRUTH = [
    frame_truth("cat", YOLO_ROWS[0][4], YOLO_SIZE),
    frame_truth("dog", YOLO_ROWS[3][4], YOLO_SIZE),
    frame_truth("bird", YOLO_ROWS[4][4], YOLO_SIZE),
]
YOLOV5_TRUTH = YOLOV8_TRUTH[:2]
# NMS per class (agnostic_nms = false): both labels on the shared spot.
YOLOV8_CLASS_AWARE_TRUTH = [*YOLOV8_TRUTH, frame_truth("cat", YOLO_ROWS[2][4], YOLO_SIZE)]


def ssd_outputs(rows: int = 10) -> list[np.ndarray]:
    boxes = np.zeros((1, rows, 4), np.float32)
    classes = np.zeros((1, rows), np.float32)
    scores = np.zeros((1, rows), np.float32)
    for i, (cls, score, (x0, y0, x1, y1)) in enumerate(SSD_ROWS):
        boxes[0, i] = [y0 / SSD_SIZE, x0 / SSD_SIZE, y1 / SSD_SIZE, x1 / SSD_SIZE]
        classes[0, i], scores[0, i] = cls, score
    boxes[0, len(SSD_ROWS) :] = [0.0, 0.0, 1.0, 1.0]  # junk past the count
    classes[0, len(SSD_ROWS) :], scores[0, len(SSD_ROWS) :] = 4, 0.95
    return [boxes, classes, scores, np.asarray([len(SSD_ROWS)], np.float32)]


def yolo_head(version: int) -> np.ndarray:
    """YOLOv8: [1, 4+C, N] normalised; YOLOv5: [1, 3N, 5+C] in pixels."""
    classes = len(YOLO_LABELS)
    anchors = YOLO_CELLS if version == 8 else 3 * YOLO_CELLS
    rows = np.zeros((anchors, 4 + (version == 5) + classes), np.float32)
    for anchor, cls, score, objectness, (x0, y0, x1, y1) in YOLO_ROWS:
        box = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
        if version == 8:
            rows[anchor, :4] = np.asarray(box) / YOLO_SIZE
            rows[anchor, 4 + cls] = score
        else:
            rows[anchor, :4] = box
            rows[anchor, 4], rows[anchor, 5 + cls] = objectness, score
    return (rows.T if version == 8 else rows)[np.newaxis]


# --- conversion ----------------------------------------------------------------------


def _convert(
    heads: dict[str, np.ndarray],
    size: int,
    *,
    quantize: bool,
    io: str | None,
    rounded: tuple[str, ...] = (),
) -> bytes:
    import tensorflow as tf

    constants = {name: tf.constant(value) for name, value in heads.items()}

    # tf.function typed for mypy (TensorFlow ships no stubs): the same decorator.
    graph_function: Callable[[Callable[..., Any]], Any] = tf.function(
        input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)]
    )

    @graph_function
    def model(x: tf.Tensor) -> dict[str, tf.Tensor]:
        zero = tf.minimum(tf.reduce_mean(x), 0.0)
        out = {}
        for name, value in constants.items():
            # Rounding (a float op after the int8 body) keeps class indices whole, as
            # the real post-process op writes them.
            out[name] = tf.round(value + zero) if name in rounded else value + zero
        return out

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.get_concrete_function()], model
    )
    if quantize:
        samples = np.random.default_rng(0).integers(0, 256, (8, 1, size, size, 3))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([s.astype(np.float32)] for s in samples)
    if io == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif io == "uint8-in":
        converter.inference_input_type = tf.uint8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "statistics for quantized inputs": expected
        return bytes(converter.convert())


def _rename_outputs(content: bytes, names: Callable[[int], str]) -> bytes:
    """Give the output tensors the names a real export has (in output order)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    for position, index in enumerate(graph.outputs):
        graph.tensors[index].name = names(position).encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def build_ssd(folder: Path) -> Path:
    boxes, classes, scores, count = ssd_outputs()
    # Keys sort in this order, and the converter keeps it for the outputs.
    content = _convert(
        {"a_boxes": boxes, "b_classes": classes, "c_scores": scores, "d_count": count},
        SSD_SIZE,
        quantize=True,
        io="uint8-in",
        rounded=("b_classes", "d_count"),
    )
    op = "TFLite_Detection_PostProcess"
    path = folder / "coco_ssd_format.tflite"
    path.write_bytes(_rename_outputs(content, lambda i: op if i == 0 else f"{op}:{i}"))
    (folder / "labelmap.txt").write_text("\n".join(COCO_LABELMAP) + "\n")
    return path


def build_yolo(folder: Path, version: int) -> Path:
    head = yolo_head(version)
    content = _convert(
        {"output0": head}, YOLO_SIZE, quantize=version == 8, io="int8" if version == 8 else None
    )
    path = folder / f"yolov{version}_format.tflite"
    path.write_bytes(_rename_outputs(content, lambda i: "Identity"))
    (folder / "labels.txt").write_text("\n".join(YOLO_LABELS) + "\n")
    return path


def write_frame(folder: Path, truths: list[Truth]) -> Path:
    """A 320x180 picture with a filled rectangle where each true object is."""
    import cv2

    folder.mkdir(exist_ok=True)
    image = np.full((FRAME_H, FRAME_W, 3), 60, np.uint8)
    for n, truth in enumerate(truths):
        x0, y0, x1, y1 = truth.box
        cv2.rectangle(
            image,
            (round(x0 * FRAME_W), round(y0 * FRAME_H)),
            (round(x1 * FRAME_W), round(y1 * FRAME_H)),
            (40 + 60 * n, 200, 255 - 50 * n),
            -1,
        )
    path = folder / "frame.png"
    cv2.imwrite(str(path), image)
    return folder
