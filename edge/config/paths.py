"""Relative paths in a config file mean "next to this file", not "wherever edge was started".

A config is usually written once, next to its model and labels, and then run by systemd
from ``/`` or by a user from anywhere. So every field of the config tree that holds a
path (found by its ``Path`` type, plus a video source's ``uri`` when it is not a URL) is
made absolute against the config file's folder *before* validation. Flags on the command
line are applied afterwards and stay relative to the working directory, as a shell user
expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel


def resolve_relative_paths(
    data: dict[str, Any], base: Path, model: type[BaseModel]
) -> dict[str, Any]:
    """A copy of ``data`` with the relative paths of ``model``'s path fields under ``base``
    (``model`` is the config tree's root, passed in so this module does not import it)."""
    resolved = dict(data)
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue  # an unknown key: validation reports it
        annotation = field.annotation
        if isinstance(value, str) and _is_path_field(model, key, annotation, value):
            resolved[key] = _under(base, value)
        elif isinstance(value, dict):
            child = _model_for(annotation, value)
            if child is not None:
                resolved[key] = resolve_relative_paths(value, base, child)
        elif isinstance(value, list):
            resolved[key] = [
                resolve_relative_paths(item, base, child)
                if isinstance(item, dict) and (child := _model_for(annotation, item))
                else item
                for item in value
            ]
    return resolved


def _is_path_field(model: type[BaseModel], key: str, annotation: Any, value: str) -> bool:
    # By name: config.sources imports this module, so it cannot import the class.
    if model.__name__ == "VideoSourceConfig" and key == "uri":
        return "://" not in value  # a file, not an rtsp:// or http(s):// stream
    return _mentions_path(annotation)


def _mentions_path(annotation: Any) -> bool:
    if annotation is Path:
        return True
    return any(_mentions_path(arg) for arg in getattr(annotation, "__args__", ()) or ())


def _under(base: Path, value: str) -> str:
    if not value or value.startswith("~") or Path(value).is_absolute():
        return value
    return str(base / value)


def _model_for(annotation: Any, value: dict[str, Any]) -> type[BaseModel] | None:
    """The model class a table is validated as (by its ``kind`` within a union)."""
    candidates = models_in(annotation)
    kind = value.get("kind")
    for candidate in candidates:
        kind_field = candidate.model_fields.get("kind")
        if kind_field is None or kind is None or kind_field.default == kind:
            return candidate
    return None


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``A | B``, ``list[A]``, ``Annotated[...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and not found:
        found.extend(models_in(origin))
    return found
