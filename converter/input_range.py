"""What values a model takes for a pixel: ``value = pixel * scale + offset``.

Image-folder calibration and evaluation go through the device's preprocessing with the
manifest's ``input.scale``/``input.offset`` (``edge.processing.preprocess.model_values``),
so declaring the range once here makes calibration, evaluation and the device agree.
A model that normalises inside itself (the project's recipe: a ``Rescaling`` layer)
takes raw pixels, ``0..255``, the default.

Named ranges (``--input-range``) are shorthands for the usual Keras conventions:
``0..255`` (raw pixels), ``0..1`` (``/ 255``), ``-1..1`` (``/ 127.5 - 1``, e.g.
MobileNet's ``preprocess_input`` and most GAN discriminators).
"""

from __future__ import annotations

import math

from edge.errors import ConfigError

NAMED_RANGES: dict[str, tuple[float, float]] = {
    "0..255": (1.0, 0.0),
    "0..1": (1.0 / 255.0, 0.0),
    "-1..1": (1.0 / 127.5, -1.0),
}


def resolve_input_range(
    name: str | None, scale: float | None, offset: float | None
) -> tuple[float, float]:
    """``(scale, offset)`` from a named range or explicit values (not both)."""
    if name is not None:
        if scale is not None or offset is not None:
            raise ConfigError(
                f"--input-range {name} and --input-scale/--input-offset both describe the "
                "input values",
                hint="give either a named --input-range or --input-scale and --input-offset",
            )
        if name not in NAMED_RANGES:
            raise ConfigError(
                f"input range {name!r} is not known",
                hint=f"choose one of: {', '.join(NAMED_RANGES)}, or give --input-scale and "
                "--input-offset (model value = pixel * scale + offset)",
            )
        return NAMED_RANGES[name]
    scale = 1.0 if scale is None else scale
    offset = 0.0 if offset is None else offset
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset)):
        raise ConfigError(
            f"--input-scale {scale} / --input-offset {offset}: the scale must be a positive "
            "number and both must be finite",
            hint="model value = pixel * scale + offset, e.g. scale 0.00392157 for 0..1",
        )
    return scale, offset
