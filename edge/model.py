"""Open a model for running: file + manifest + interpreter, with config overrides.

The manifest inside the file is the default for every fact; the config (or flags)
overrides single facts. A model without a manifest needs at least ``task``; its input
recipe is derived from the input tensor (see ``edge.manifest.default_input_spec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.backends.base import Backend
from edge.backends.litert import LiteRTBackend
from edge.config import DecoderConfig, ModelConfig
from edge.errors import ConfigError, ModelError
from edge.manifest import (
    METADATA_NAME,
    DecoderSpec,
    Manifest,
    default_input_spec,
    parse_manifest,
)
from edge.modelfile import ModelFile, read_model_file
from edge.processing.decoders import TASK_DECODERS
from edge.zoo import DEFAULT_MODEL, zoo_file


@dataclass
class LoadedModel:
    file: ModelFile
    manifest: Manifest
    backend: Backend
    embedded_manifest: bool

    def close(self) -> None:
        self.backend.close()


def resolve_model_path(path: Path | None) -> Path:
    return path if path is not None else zoo_file(DEFAULT_MODEL)


def load_model(config: ModelConfig, decoder: DecoderConfig | None = None) -> LoadedModel:
    model_file = read_model_file(resolve_model_path(config.path))
    backend = LiteRTBackend(model_file.content, threads=config.threads, runtime=config.runtime,
                            origin=str(model_file.path))
    raw = model_file.metadata.get(METADATA_NAME)
    if raw is not None:
        manifest = parse_manifest(raw, origin=str(model_file.path))
    else:
        manifest = _manifest_from_config(model_file, backend, config)
    manifest = _apply_overrides(manifest, config, decoder or DecoderConfig())
    _check_labels(manifest, backend, model_file.path)
    return LoadedModel(model_file, manifest, backend, embedded_manifest=raw is not None)


def read_labels(path: Path) -> list[str]:
    """One label per line, in class-index order; used by ``edge run`` and ``edge convert``
    alike so a labels file means the same on the workstation and the device."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"labels file {str(path)!r} does not exist",
            hint="give a text file with one label per line, in class-index order",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read labels file {str(path)!r}: {exc}") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ConfigError(f"labels file {str(path)!r} is empty",
                          hint="write one label per line, in class-index order")
    return [line.strip() for line in lines]


def _manifest_from_config(model_file: ModelFile, backend: Backend, config: ModelConfig) -> Manifest:
    if config.task is None:
        raise ModelError(
            f"{model_file.path} has no edge manifest, so its task is unknown",
            hint="say what it is, e.g. `--task classify --labels labels.txt` "
            "(or [model] task/labels in the config), or convert it with `edge convert`",
        )
    if len(backend.inputs) != 1:
        raise ModelError(f"{model_file.path} has {len(backend.inputs)} inputs; "
                         "only single-image models are supported")
    return Manifest(
        name=model_file.name,
        task=config.task,
        labels=[],
        input=default_input_spec(backend.inputs[0]),
        decoder=DecoderSpec(name=TASK_DECODERS.get(config.task, config.task)),
    )


def _apply_overrides(manifest: Manifest, config: ModelConfig, decoder: DecoderConfig) -> Manifest:
    updates: dict[str, Any] = {}
    if config.task is not None and config.task != manifest.task:
        updates["task"] = config.task
    if config.labels is not None:
        updates["labels"] = read_labels(config.labels)
    input_changes = config.input.model_dump(exclude_none=True)
    if input_changes:
        updates["input"] = manifest.input.model_copy(update=input_changes)
    params = dict(manifest.decoder.params)
    params.update(decoder.model_dump(exclude_none=True, exclude={"name"}))
    name = decoder.name or manifest.decoder.name
    updates["decoder"] = DecoderSpec(name=name, params=params)
    return manifest.model_copy(update=updates)


def _check_labels(manifest: Manifest, backend: Backend, path: Path) -> None:
    if manifest.task != "classify" or not manifest.labels or len(backend.outputs) != 1:
        return
    classes = backend.outputs[0].shape[-1]
    if classes != len(manifest.labels):
        raise ConfigError(
            f"{path} has {classes} classes but {len(manifest.labels)} labels were given",
            hint="the labels file needs one line per class, in class-index order",
        )
