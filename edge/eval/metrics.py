"""The task metrics: plain numpy functions of model outputs and targets.

One implementation for both sides: the converter's report (float vs quantized, on the
workstation) and ``edge eval`` (the quantized model on the device) import them from
here, so a figure in a report and the same figure measured on a Pi mean the same thing.

- classify: ``accuracy`` (share of samples whose top-1 class is the label) and
  ``confusion_matrix`` (rows = true class, columns = predicted);
- detect: ``mean_average_precision`` at IoU ``IOU_MATCH`` (0.5), the mean over the
  classes present in the ground truth of the all-point interpolated average precision
  (VOC 2010+ / COCO style: detections of all images ranked by score, greedy matching,
  each ground-truth box matched at most once, a second match is a false positive), and
  ``precision_recall`` at one score threshold. Detections are decoded for mAP with the
  score threshold lowered to ``EVAL_SCORE_THRESHOLD``: AP integrates over all
  thresholds, so the device's own threshold would cut the curve short;
- anomaly: ``roc_auc``, the probability that a random anomalous sample scores higher
  than a random normal one (ties count one half: the Mann-Whitney U statistic from
  average ranks), and ``rates`` (true/false positive rates at a threshold);
- generate: ``psnr_db`` of a test image set against a reference set,
  ``10 log10(range^2 / MSE)`` over all values together with ``range`` = ``DATA_RANGE``
  (2: a tanh output spans [-1, 1]), and ``sqnr_db``, ``10 log10(sum(f^2) / sum((f-q)^2))``,
  which needs no assumed range.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.processing.geometry import iou

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
# Per image: (boxes (K, 4) x0, y0, x1, y1, classes (K,)).
Truth = list[tuple[FloatArray, IntArray]]
# Per image: (boxes (K, 4), scores (K,), classes (K,)).
Predictions = list[tuple[FloatArray, FloatArray, IntArray]]

IOU_MATCH = 0.5
EVAL_SCORE_THRESHOLD = 0.05
# mAP's decoding protocol: every score down to EVAL_SCORE_THRESHOLD, and NMS per class, as
# COCO's and Ultralytics' validators do: a second class on the same box (a lower-scored
# guess) adds recall at low thresholds. The device's default is one label per box
# (``agnostic_nms``), which on the shipped detector's held-out scenes measures 0.987
# under this metric against 0.995 class-aware, while giving fewer double labels.
MAP_PROTOCOL: dict[str, Any] = {"score_threshold": EVAL_SCORE_THRESHOLD, "agnostic_nms": False}


def map_overrides(fields: Collection[str]) -> dict[str, Any]:
    """The decoder settings mAP is measured at, for a decoder whose settings are ``fields``."""
    return {key: value for key, value in MAP_PROTOCOL.items() if key in fields}


DATA_RANGE = 2.0


# --- classify -------------------------------------------------------------------------


def accuracy(predicted: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Share (0..1) of samples whose predicted class is the label."""
    p, y = np.asarray(predicted).reshape(-1), np.asarray(labels).reshape(-1)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    if len(y) == 0:
        raise ValueError("accuracy of no samples")
    return float((p == y).mean())


def confusion_matrix(rows: IntArray, cols: IntArray, classes: int) -> list[list[int]]:
    """``matrix[r][c]``: samples with class ``r`` in ``rows`` and ``c`` in ``cols``."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (rows, cols), 1)
    return [[int(v) for v in row] for row in matrix]


# --- detect ---------------------------------------------------------------------------


def truth_lists(boxes: FloatArray, classes: IntArray, owner: IntArray, count: int) -> Truth:
    """Flat ground truth (one row per box, ``owner`` = its image) -> per image."""
    return [(boxes[owner == i], classes[owner == i]) for i in range(count)]


def average_precision(recall: FloatArray, precision: FloatArray) -> float:
    """All-point interpolated AP: area under the monotone precision envelope."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(
    predictions: Predictions, truth: Truth, iou_threshold: float = IOU_MATCH
) -> dict[str, Any]:
    """``{"map": ..., "per_class": {class: AP}}`` over the classes present in ``truth``."""
    present = sorted({int(c) for _, classes in truth for c in classes})
    per_class: dict[int, float] = {}
    for cls in present:
        gt = [boxes[classes == cls] for boxes, classes in truth]
        total = sum(len(g) for g in gt)
        entries = [
            (float(s), i, b)
            for i, (boxes, scores, classes) in enumerate(predictions)
            for b, s in zip(boxes[classes == cls], scores[classes == cls], strict=True)
        ]
        entries.sort(key=lambda e: -e[0])
        used = [np.zeros(len(g), bool) for g in gt]
        hits = np.zeros(len(entries), np.float32)
        for n, (_, i, box) in enumerate(entries):
            if len(gt[i]) == 0:
                continue
            overlaps = iou(box.astype(np.float32), gt[i].astype(np.float32))
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou_threshold and not used[i][best]:
                used[i][best] = True
                hits[n] = 1.0
        tp = np.cumsum(hits)
        fp = np.cumsum(1.0 - hits)
        recall = (tp / total).astype(np.float32)
        precision = (tp / np.maximum(tp + fp, 1e-9)).astype(np.float32)
        per_class[cls] = average_precision(recall, precision) if entries else 0.0
    mean = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return {"map": mean, "per_class": per_class}


def precision_recall(
    predictions: Predictions, truth: Truth, threshold: float
) -> tuple[float, float]:
    """Precision and recall of the detections scoring at least ``threshold``."""
    tp = fp = 0
    total = sum(len(c) for _, c in truth)
    for (boxes, scores, classes), (gt_boxes, gt_classes) in zip(predictions, truth, strict=True):
        used = np.zeros(len(gt_boxes), bool)
        for n in np.flatnonzero(scores >= threshold):
            candidates = np.flatnonzero((gt_classes == classes[n]) & ~used)
            if len(candidates):
                overlaps = iou(boxes[n].astype(np.float32), gt_boxes[candidates].astype(np.float32))
                best = int(np.argmax(overlaps))
                if overlaps[best] >= IOU_MATCH:
                    used[candidates[best]] = True
                    tp += 1
                    continue
            fp += 1
    return tp / max(tp + fp, 1), tp / max(total, 1)


# --- anomaly --------------------------------------------------------------------------


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (1 = positive); ties count 1/2."""
    s = np.asarray(scores, np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores for {len(y)} labels")
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("ROC-AUC needs at least one positive and one negative sample")
    ranks = average_ranks(s)
    u = ranks[y].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks; equal values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Start index of each run of equal values, and the run each sorted item belongs to.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    run_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def rates(scores: npt.ArrayLike, labels: npt.ArrayLike, threshold: float) -> dict[str, float]:
    """True and false positive rates of the verdict ``score > threshold``."""
    flagged = np.asarray(scores, np.float64).reshape(-1) > threshold
    y = np.asarray(labels).reshape(-1).astype(bool)
    return {"tpr": float(flagged[y].mean()), "fpr": float(flagged[~y].mean())}


# --- generate -------------------------------------------------------------------------


def psnr_db(reference: npt.ArrayLike, test: npt.ArrayLike, data_range: float = DATA_RANGE) -> float:
    """PSNR of ``test`` against ``reference`` in dB (inf when they are identical)."""
    ref, out = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    mse = float(np.mean((ref - out) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def sqnr_db(reference: npt.ArrayLike, test: npt.ArrayLike) -> float:
    """Signal (``reference``) to quantization noise (``test - reference``) ratio in dB."""
    ref, out = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    noise = float(np.sum((ref - out) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        return math.inf
    return -math.inf if signal == 0 else 10.0 * math.log10(signal / noise)
