"""Every number in the config tree has a lower and an upper bound, and NaN and infinity
are refused: the schema is walked, so a field added without bounds fails here."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import annotated_types
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from edge.config.base import Strict
from edge.config.run import RunConfig
from edge.decoders.registry import decoders

LOWER = (annotated_types.Ge, annotated_types.Gt)
UPPER = (annotated_types.Le, annotated_types.Lt)


def _numbers(
    annotation: object, metadata: list[object], place: str
) -> Iterator[tuple[str, list[object]]]:
    """Each int/float inside ``annotation`` with the constraints that apply to it."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        found = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        yield from _numbers(inner, [*metadata, *found], place)
        return
    if annotation in (int, float):
        yield place, metadata
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _fields(annotation, f"{place}.")
        return
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (dict, list):
        # A container's item or value: its own Annotated constraints, not the field's.
        for arg in args[1:] if typing.get_origin(annotation) is dict else args:
            yield from _numbers(arg, [], f"{place}[]")
        return
    for arg in args:  # a union: each member with the field's constraints
        yield from _numbers(arg, metadata, place)


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, list[object]]]:
    for name, info in model.model_fields.items():
        place = f"{prefix or model.__name__ + '.'}{name}"
        yield from _numbers(info.annotation, list(info.metadata), place)


def _unbounded(model: type[BaseModel]) -> list[str]:
    missing = []
    for place, metadata in _fields(model):
        lower = any(isinstance(m, LOWER) for m in metadata)
        upper = any(isinstance(m, UPPER) for m in metadata)
        if not (lower and upper):
            lacks = [side for side, has in (("lower", lower), ("upper", upper)) if not has]
            missing.append(f"{place} (no {' or '.join(lacks)} bound)")
    return sorted(set(missing))


def test_every_number_in_the_config_tree_has_both_bounds() -> None:
    assert _unbounded(RunConfig) == []


def test_the_walker_finds_an_unbounded_number() -> None:
    class Loose(Strict):
        fine: int = 1
        nested: dict[str, float] = Field(default_factory=dict)

    assert len(_unbounded(Loose)) == 2


def test_every_config_table_refuses_nan_and_infinity() -> None:
    def tables(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
        yield model
        for info in model.model_fields.values():
            from edge.config.paths import models_in

            for child in models_in(info.annotation):
                yield from tables(child)

    for table in tables(RunConfig):
        if table.__name__ == "DecoderConfig":
            continue  # its settings are the decoder's own parameters (below)
        assert table.model_config.get("allow_inf_nan") is False, table.__name__


def test_every_decoder_parameter_has_both_bounds() -> None:
    """The built-in decoders' numbers too (a [decoder] table is config like any other)."""
    loose = [entry for decoder in decoders() for entry in _unbounded(decoder.params)]
    assert not loose, "decoder parameters without both bounds: " + "; ".join(loose)
