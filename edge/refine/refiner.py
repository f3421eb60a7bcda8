"""Name the boxes a detector was unsure of again, with a classifier on their crops.

Per frame, for each box scored under ``below_score`` whose label the classifier also
knows: the crop around it (``edge.refine.crop``, from the frame the detector saw) goes
through the classifier, and its top label replaces the detector's when its probability
reaches ``min_confidence``. The box and its score stay the detector's: the score says
how sure the detector was that something is there, which the classifier does not judge.

Labels are matched by name, so the classifier may know more or fewer classes than the
detector: a box whose label the classifier lacks is left alone, and so is a box the
classifier names with a label the detector lacks.

Cost: one classifier ``invoke`` per unsure box, on the decode stage's thread
(``docs/benchmarks.md``). The classifier's interpreter belongs to the detector's
``LoadedModel`` (``attached``), so a run, a reload and ``check-config`` close it with
the detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from edge.config.refine import RefineConfig
from edge.model.manifest import InputSpec
from edge.refine.crop import crop
from edge.types import Detections, Frame, Image, Latency


class Classifier(Protocol):
    """What the refiner needs of its classifier: ``edge.pipeline.inference.Inference``."""

    @property
    def input_spec(self) -> InputSpec: ...

    def __call__(self, frame: Frame) -> tuple[Detections, dict[str, Any], Latency]: ...


class Refiner:
    """Borrows ``classifier`` (an ``edge.pipeline.inference.Inference`` of a classify
    model); one thread at a time, as the decode stage is."""

    def __init__(
        self,
        classifier: Classifier,
        classifier_labels: Sequence[str],
        detector_labels: Sequence[str],
        config: RefineConfig,
    ) -> None:
        detector_ids = {name: i for i, name in enumerate(detector_labels)}
        # classifier class id -> detector class id, -1 where the detector has no such label
        self._to_detector = np.asarray(
            [detector_ids.get(name, -1) for name in classifier_labels], np.int64
        )
        known = {name for name in classifier_labels if name in detector_ids}
        self._checked = np.asarray([name in known for name in detector_labels], bool)
        self._classifier = classifier
        spec = classifier.input_spec
        self._size = (spec.width, spec.height)
        self._below = config.below_score
        self._min_confidence = config.min_confidence
        self._context = config.context

    def __call__(self, image: Image, detections: Detections) -> Detections:
        boxes = detections.xyxy
        if boxes is None or len(detections) == 0:
            return detections
        ids = detections.class_id
        inside = (ids >= 0) & (ids < len(self._checked))
        checked = np.zeros(len(ids), bool)
        checked[inside] = self._checked[ids[inside]]
        unsure = np.flatnonzero(checked & (detections.confidence < self._below))
        if len(unsure) == 0:
            return detections
        class_id = ids.copy()
        for row in unsure:
            x0, y0, x1, y1 = (float(v) for v in boxes[row])
            piece = crop(image, (x0, y0, x1, y1), self._size, self._context)
            named, _, _ = self._classifier(Frame(piece, 0, 0.0, "crop"))
            if len(named) == 0 or named.confidence[0] < self._min_confidence:
                continue
            top = int(named.class_id[0])
            mapped = int(self._to_detector[top]) if 0 <= top < len(self._to_detector) else -1
            if mapped >= 0:
                class_id[row] = mapped
        return Detections(class_id, detections.confidence, boxes)
