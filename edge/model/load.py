"""Open a model for running: file + manifest + interpreter, with config overrides.

The manifest inside the file is the default for every fact; the config (or flags)
overrides single facts. A model without a manifest needs its task or its decoder
(``--task``, ``--decoder``), or a head the outputs identify (``edge.decoders.heads``:
SSD, YOLO, the project's detector), which makes it a detector; the choice is logged.
Its input recipe is derived from the input tensor (``edge.model.manifest.default_input_spec``).

The decoder's parameters are resolved here, once (``edge.decoders.registry``): the
manifest's values (only when the decoder is the manifest's own) under the explicit
settings, validated against the decoder; the result is the manifest's
``decoder.params``, complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config.model import DecoderConfig, ModelConfig
from edge.decoders.registry import (
    canonical,
    decoder_info,
    decoders,
    default_decoder,
    resolve_params,
    task_of,
)
from edge.errors import ConfigError, ModelError
from edge.model.backends.base import Backend
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import ModelFile, read_model_file
from edge.model.labels import _check_labels, read_labels
from edge.model.manifest import (
    METADATA_NAME,
    DecoderSpec,
    InputSpec,
    Manifest,
    default_input_spec,
    parse_manifest,
)
from edge.model.ultralytics import UltralyticsMetadata, read_ultralytics_metadata
from edge.model.verify.ahead import take_prefetched
from edge.model.verify.probe import verify_model
from edge.model.zoo import DEFAULT_MODEL, zoo_file

log = logging.getLogger("edge")


@dataclass
class LoadedModel:
    """A model ready to run: its file, its manifest and its interpreter (``backend``).

    The one owner of the interpreter: only ``close`` frees it (``load_model`` hands it
    over; ``Inference`` and the pipeline's stages borrow it). A ``LoadedModel`` has one
    owner in turn, the one who closes it: the caller of ``load_model`` /
    ``open_inference``; in a run ``edge.app.run`` until the pipeline runs it, then the
    pipeline (``edge.pipeline.loop.Pipeline``); a model a reload loaded, the reloader
    until it hands it to the pipeline (``edge.service.reload``). Closing twice is
    harmless, but no owner relies on it.

    ``attached``: models that run beside this one and live exactly as long (the
    ``[refine]`` classifier, ``edge.refine.load``); ``close`` closes them too."""

    file: ModelFile
    manifest: Manifest
    backend: Backend
    embedded_manifest: bool
    attached: list[LoadedModel] = field(default_factory=list)

    def close(self) -> None:
        for model in self.attached:
            model.close()
        self.backend.close()


def resolve_model_path(path: Path | None) -> Path:
    return path if path is not None else zoo_file(DEFAULT_MODEL)


def load_model(config: ModelConfig, decoder: DecoderConfig | None = None) -> LoadedModel:
    decoder = decoder or DecoderConfig()
    if decoder.name is not None:
        decoder_info(decoder.name)  # an unknown name fails before the model is read
    path = resolve_model_path(config.path)
    model_file = take_prefetched(path) or read_model_file(path)
    if config.probe:  # a file not verified yet is loaded and run in a child first
        how = verify_model(model_file, runtime=config.runtime, timeout=config.probe_timeout)
        log.debug("%s verified: %s", model_file.path.name, how)
    backend = LiteRTBackend(
        model_file.content,
        threads=config.threads,
        runtime=config.runtime,
        origin=str(model_file.path),
    )
    try:
        raw = model_file.metadata.get(METADATA_NAME)
        if raw is not None:
            manifest = parse_manifest(raw, origin=str(model_file.path))
        else:
            manifest = _manifest_from_config(model_file, backend, config, decoder)
        manifest = _apply_overrides(manifest, config, decoder)
        _check_labels(manifest, backend, model_file.path)
    except BaseException:
        backend.close()  # still ours: no LoadedModel took it
        raise
    return LoadedModel(model_file, manifest, backend, embedded_manifest=raw is not None)


def _manifest_from_config(
    model_file: ModelFile, backend: Backend, config: ModelConfig, decoder: DecoderConfig
) -> Manifest:
    if len(backend.inputs) != 1:
        raise ModelError(
            f"{model_file.path} has {len(backend.inputs)} inputs; "
            "only single-image models are supported"
        )
    task: str | None = config.task
    name = decoder.name
    ultralytics = read_ultralytics_metadata(model_file.content, model_file.path)
    spec: InputSpec | None = None
    labels: list[str] = []
    if ultralytics is not None:
        spec = default_input_spec(backend.inputs[0])
        labels = ultralytics.names
        task, name = _from_ultralytics(ultralytics, model_file, spec, task, name)
    if name is not None:
        task = task or decoder_info(name).task
    elif task in (None, "detect"):
        from edge.decoders.heads import guess_decoder

        guess, reason = guess_decoder(backend.outputs, backend.inputs[0].shape)
        if task_of(guess) == "detect":
            task, name = "detect", guess
            log.info(
                "%s has no manifest: decoder %s picked from its outputs (%s); "
                "another one with --decoder",
                model_file.path.name,
                guess,
                reason,
            )
        elif task == "detect":
            name = "centernet"
    if task is None:
        raise ModelError(
            f"{model_file.path} has no edge manifest, so its task is unknown",
            hint="say what it is, e.g. `--task classify --labels labels.txt` or "
            "`--decoder yolov8` (or [model] task/labels in the config), or convert it "
            "with `edge convert`",
        )
    return Manifest.model_validate(
        dict(
            name=model_file.name,
            task=task,
            labels=labels,
            input=spec or default_input_spec(backend.inputs[0]),
            # A task without a decoder (generate, raw) names its manifest's decoder by it.
            decoder=DecoderSpec(name=name or default_decoder(task) or task),
        )
    )


def _from_ultralytics(
    found: UltralyticsMetadata,
    model_file: ModelFile,
    spec: InputSpec,
    task: str | None,
    name: str | None,
) -> tuple[str | None, str | None]:
    """The task and decoder a model's Ultralytics metadata gives (flags win), logged."""
    decoder = found.decoder
    if name is None and task in (None, found.task) and decoder is not None:
        name = decoder
    used = f"decoder {name}" if name else "no decoder (give --decoder)"
    log.info(
        "%s has no edge manifest; read its Ultralytics metadata: %s -> %s, its names as "
        "labels; --labels, --task and --decoder override them",
        model_file.path.name,
        found.summary(),
        used,
    )
    if found.imgsz is not None and found.imgsz != (spec.height, spec.width):
        log.warning(
            "%s: its Ultralytics metadata says imgsz %dx%d, its input tensor takes %dx%d; "
            "the tensor's size is used",
            model_file.path.name,
            *found.imgsz,
            spec.height,
            spec.width,
        )
    return task, name


def _apply_overrides(manifest: Manifest, config: ModelConfig, decoder: DecoderConfig) -> Manifest:
    updates: dict[str, Any] = {}
    if config.task is not None and config.task != manifest.task:
        updates["task"] = config.task
    if config.labels is not None:
        updates["labels"] = read_labels(config.labels)
    input_changes = config.input.model_dump(exclude_none=True)
    if input_changes:
        updates["input"] = manifest.input.model_copy(update=input_changes)
    name = decoder.name or manifest.decoder.name
    if config.task is None and decoder.name is not None:
        # A decoder alone sets the task its records carry (ssd -> detect).
        decoded = task_of(name)
        if decoded is not None and decoded != manifest.task:
            updates["task"] = decoded
    task = updates.get("task", manifest.task)
    _check_task_fits_decoder(task, name, manifest.task)
    if task == "generate":
        # A generator takes no frames; Inference refuses it with that reason.
        updates["decoder"] = DecoderSpec(name=name, params=dict(manifest.decoder.params))
        return manifest.model_copy(update=updates)
    # The manifest's values are calibrated for its own decoder only.
    own = canonical(name) == canonical(manifest.decoder.name)
    base = manifest.decoder.params if own else {}
    params = resolve_params(name, base, decoder.settings)
    updates["decoder"] = DecoderSpec(
        name=canonical(name), params=params.model_dump(exclude_none=True)
    )
    return manifest.model_copy(update=updates)


def _check_task_fits_decoder(task: str, name: str, manifest_task: str) -> None:
    """Records carry the task; it must be the one the decoder produces, or a classifier's
    records would say ``detect`` (``--task detect`` on a model with a manifest)."""
    decoded = task_of(name)
    if decoded is None or decoded == task:
        return
    example = default_decoder(task) or "one of " + ", ".join(d.name for d in decoders())
    raise ConfigError(
        f"task {task!r} does not fit decoder {name!r}, which produces {decoded!r} results "
        f"(the model's manifest says task {manifest_task!r})",
        hint=f"leave out --task / [model] task, or also give a {task} decoder with "
        f"--decoder (e.g. {example})",
    )
