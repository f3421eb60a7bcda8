"""The data ``edge eval`` reads: one ``.npz`` whose arrays depend on the model's task.

The arrays are those ``edge convert --eval`` reads for the same task, plus ``reference``
for a generator, so a file made for the converter measures the device too:

- classify: ``x`` images, ``y`` ``(N,)`` integer class ids -> accuracy (%);
- detect: ``x`` images, ``boxes`` ``(M, 4)`` ``x0, y0, x1, y1`` normalised 0..1 to the
  image, ``classes`` ``(M,)`` integer class ids, ``image_index`` ``(M,)`` the image each
  box belongs to (an image may have none) -> mAP@0.5;
- anomaly: ``x`` images, ``y`` ``(N,)`` 0 normal / 1 anomalous, both present -> ROC-AUC;
- generate: ``x`` ``(N, D)`` float latent vectors, ``reference`` ``(N, *output)`` the float
  model's outputs for them -> PSNR in dB of the model's outputs against them.

Images ``x`` come in one of two kinds, told apart by dtype:

- uint8: pixels, ``(N, H, W)`` or ``(N, H, W, 1 | 3)`` (three channels in BGR order, as
  OpenCV reads images), any size. Each goes through the model's input recipe exactly as
  ``edge run`` sends a camera frame (colour conversion, resize, ``pixel * scale +
  offset``, quantization to the input tensor), and detections are mapped back to the
  image as ``edge run`` maps them to the frame;
- float: model values, exactly as the Keras model takes them (what ``model.predict`` and
  ``edge convert --eval`` take), of the input's shape (``(N, H, W)`` for one channel is
  accepted); only quantized to the input tensor.

For the shipped models (input recipe ``scale`` 1, ``offset`` 0) both give the same
tensors. Other arrays in the file are ignored.

This module has no imports: ``edge``'s argument parser reads ``HELP`` at every start.
"""

from __future__ import annotations

# task -> the arrays the file must hold, in the order the help names them.
KEYS: dict[str, tuple[str, ...]] = {
    "classify": ("x", "y"),
    "detect": ("x", "boxes", "classes", "image_index"),
    "anomaly": ("x", "y"),
    "generate": ("x", "reference"),
}

# task -> the metric's key in ``edge eval --json`` and its name in the printed line.
METRICS: dict[str, tuple[str, str]] = {
    "classify": ("accuracy", "accuracy"),
    "detect": ("map50", "mAP@0.5"),
    "anomaly": ("roc_auc", "ROC-AUC"),
    "generate": ("psnr", "PSNR"),
}

# One line per array: what it holds (the errors quote these).
MEANING: dict[str, str] = {
    "x": "the inputs: uint8 pixels (N, H, W[, 1|3]) or float model values",
    "y@classify": "(N,) integer class ids, 0..classes-1",
    "y@anomaly": "(N,) 0 normal, 1 anomalous (both kinds present)",
    "boxes": "(M, 4) float x0, y0, x1, y1 normalised 0..1 to the image",
    "classes": "(M,) integer class id of each box",
    "image_index": "(M,) integer index into x of the image each box belongs to",
    "reference": "(N, *output shape) float: the float model's outputs for x",
}

HELP = """\
DATA is one .npz file (numpy.savez); the arrays it holds depend on the model's task:

  classify  x, y                               -> accuracy in % (one decimal)
            y: (N,) integer class ids 0..classes-1
  detect    x, boxes, classes, image_index     -> mAP@0.5 (three decimals)
            boxes: (M, 4) float x0, y0, x1, y1 normalised 0..1 to the image;
            classes: (M,) integer class ids; image_index: (M,) the image (index
            into x) each box belongs to; an image may have none
  anomaly   x, y                               -> ROC-AUC (three decimals)
            y: (N,) 0 normal, 1 anomalous; both must be present
  generate  x, reference                       -> PSNR in dB (one decimal)
            x: (N, D) float latent vectors; reference: (N, *output) the float
            model's outputs for them (the metric is against these)

x as uint8 is pixels, (N, H, W) or (N, H, W, 1|3) (3 channels in BGR order, as
OpenCV reads images), any size: each image goes through the model's input recipe
as `edge run` sends a camera frame (colour, resize, scale/offset, quantize), and
boxes come back normalised to the image. x as float is model values, exactly as
the Keras model takes them (as `edge convert --eval` reads them), in the model's
input shape: only quantized. Other arrays in the file are ignored; a file made
for `edge convert --eval` works here too.

The shipped zoo's sets (models/zoo/, in the repository):
  edge eval models/zoo/digits-cnn.int8.tflite models/zoo/digits-holdout.npz
  (also digits-vit), digits-detector + digits-detector-eval.npz, digits-anomaly
  + digits-anomaly-eval.npz, digits-dcgan-generator + digits-dcgan-eval.npz,
  digits-crops + digits-crops-eval.npz.

Measure on the device that will run the model: ARM int8 kernels round
differently from x86 ones, so the figure can move in its last digit.
"""


def meaning(key: str, task: str) -> str:
    """What array ``key`` holds for ``task``."""
    return MEANING.get(f"{key}@{task}") or MEANING[key]
