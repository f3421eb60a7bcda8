"""``edge.refine.refiner``: which boxes are classified again, and when a label changes.

The rule's logic runs against a scripted classifier (a stand-in for
``edge.pipeline.inference.Inference`` that answers from a table and records each crop it
was shown); the shipped classifier on real crops is in ``test_shipped.py``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.config.refine import RefineConfig
from edge.model.manifest import InputSpec
from edge.refine.refiner import Refiner
from edge.types import Detections, Frame, Latency

DETECTOR_LABELS = ["cat", "dog", "fox"]


class ScriptedClassifier:
    """Answers each crop with the next (label id, probability) of ``answers``."""

    def __init__(self, answers: list[tuple[int, float]]) -> None:
        self.answers = list(answers)
        self.crops: list[np.ndarray] = []

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(width=12, height=10, channels=1, colour="gray", resize="stretch")

    def __call__(self, frame: Frame) -> tuple[Detections, dict[str, Any], Latency]:
        self.crops.append(frame.image)
        label, probability = self.answers.pop(0)
        found = Detections(np.asarray([label]), np.asarray([probability], np.float32))
        return found, {}, Latency(0.0, 0.0, 0.0)


def _detections(labels: list[int], scores: list[float]) -> Detections:
    boxes = np.asarray([[0.1 * i, 0.1, 0.1 * i + 0.1, 0.3] for i in range(len(labels))])
    return Detections(
        np.asarray(labels, np.int64), np.asarray(scores, np.float32), boxes.astype(np.float32)
    )


def _image() -> np.ndarray:
    return np.zeros((60, 80, 3), np.uint8)


def test_only_unsure_boxes_are_classified_and_only_a_sure_answer_renames() -> None:
    # Classifier labels in another order, with one the detector lacks ("owl").
    classifier = ScriptedClassifier([(0, 0.95), (1, 0.6), (3, 0.99)])
    refiner = Refiner(
        classifier,
        ["dog", "cat", "fox", "owl"],
        DETECTOR_LABELS,
        RefineConfig(path=None, below_score=0.7, min_confidence=0.9),
    )
    detections = _detections([0, 2, 2, 1], [0.5, 0.95, 0.6, 0.65])
    refined = refiner(_image(), detections)
    # Box 0 (cat 0.5): the classifier says dog at 0.95 -> dog. Box 1 (0.95): not asked.
    # Box 2 (fox 0.6): cat at 0.6 is not sure enough -> stays fox. Box 3 (dog 0.65):
    # "owl", which the detector lacks -> stays dog.
    assert refined.class_id.tolist() == [1, 2, 2, 1]
    assert len(classifier.crops) == 3 and classifier.answers == []
    assert all(c.shape == (10, 12, 3) for c in classifier.crops)  # the classifier's size
    np.testing.assert_array_equal(refined.confidence, detections.confidence)
    np.testing.assert_array_equal(refined.xyxy, detections.xyxy)


def test_a_box_whose_label_the_classifier_lacks_is_not_cropped() -> None:
    classifier = ScriptedClassifier([])
    refiner = Refiner(classifier, ["cat", "dog"], DETECTOR_LABELS, RefineConfig())
    refined = refiner(_image(), _detections([2], [0.3]))
    assert refined.class_id.tolist() == [2] and classifier.crops == []


def test_below_score_one_checks_every_box_and_zero_none() -> None:
    every = ScriptedClassifier([(0, 1.0), (0, 1.0)])
    Refiner(every, DETECTOR_LABELS, DETECTOR_LABELS, RefineConfig(below_score=1.0))(
        _image(), _detections([1, 2], [0.2, 0.999])
    )
    assert len(every.crops) == 2
    none = ScriptedClassifier([])
    Refiner(none, DETECTOR_LABELS, DETECTOR_LABELS, RefineConfig(below_score=0.0))(
        _image(), _detections([1, 2], [0.0, 0.3])
    )
    assert none.crops == []


def test_frames_without_boxes_pass_through() -> None:
    refiner = Refiner(ScriptedClassifier([]), DETECTOR_LABELS, DETECTOR_LABELS, RefineConfig())
    empty = Detections.empty()
    assert refiner(_image(), empty) is empty
    classes = Detections(np.asarray([1]), np.asarray([0.2], np.float32))  # a classifier's
    assert refiner(_image(), classes) is classes
