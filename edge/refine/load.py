"""Open the ``[refine]`` classifier beside a detector: checked, then attached to it.

``edge.pipeline.inference.open_inference`` wraps it in an ``Inference`` and a ``Refiner``
(this module does not import the pipeline, which imports it)."""

from __future__ import annotations

from edge.config.model import DecoderConfig, ModelConfig
from edge.config.refine import RefineConfig
from edge.errors import ConfigError
from edge.model.load import LoadedModel, load_model


def open_classifier(config: RefineConfig, detector: LoadedModel, main: ModelConfig) -> LoadedModel:
    """The classifier of ``detector``'s second stage, attached to ``detector``
    (``LoadedModel.attached``), so whoever closes the detector closes both. It runs on
    ``main``'s runtime and is probed as ``main`` says (``[model]``), with its own threads.
    Raises a ``ConfigError`` (exit 78) for a setting that cannot work, after closing what
    it opened."""
    if config.path is None:
        raise ValueError("open_classifier needs [refine] path")
    if detector.manifest.task != "detect":
        raise ConfigError(
            f"[refine] names detected boxes again, and {detector.file.path.name} is a "
            f"{detector.manifest.task} model with none",
            hint="remove [refine], or run a detection model",
        )
    classifier = load_model(
        ModelConfig(
            path=config.path,
            labels=config.labels,
            threads=config.threads,
            runtime=main.runtime,
            probe=main.probe,
            probe_timeout=main.probe_timeout,
        ),
        DecoderConfig(),
    )
    try:
        manifest = classifier.manifest
        if manifest.task != "classify":
            raise ConfigError(
                f"[refine] path: {classifier.file.path.name} is a {manifest.task} model; "
                "the second stage needs a classifier",
                hint="point [refine] path at an image classifier (the shipped one is "
                "models/zoo/digits-crops.int8.tflite)",
            )
        shared = set(manifest.labels) & set(detector.manifest.labels)
        if not shared:
            raise ConfigError(
                f"[refine] path: {classifier.file.path.name}'s labels "
                f"({_some(manifest.labels)}) share none with "
                f"{detector.file.path.name}'s ({_some(detector.manifest.labels)}), "
                "so it could rename no box",
                hint="labels are matched by name: give the classifier the detector's "
                "names with [refine] labels = FILE (one label per line)",
            )
    except BaseException:
        classifier.close()
        raise
    detector.attached.append(classifier)
    return classifier


def _some(labels: list[str]) -> str:
    shown = ", ".join(labels[:5])
    return shown + (", ..." if len(labels) > 5 else "") if labels else "none"
