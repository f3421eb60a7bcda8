"""The choices of a conversion, as ``Literal`` types shared by both sides of it.

``edge convert``'s flags take their ``choices`` from them (``edge.cli.convert``), and the
converter's request and quantizer are typed with them (``converter.request``,
``converter.quantize``), so mypy checks one side against the other. This module imports
only the standard library: ``converter`` may import ``edge``, and importing ``edge.cli``
from a library would defer the caller's signals (``edge.cli.early``).
"""

from __future__ import annotations

from typing import Literal

ConvertTask = Literal["classify", "detect", "generate", "anomaly", "raw"]
ConvertMode = Literal[
    "auto", "int8", "int8-recalibrated", "int8-mixed", "int16x8", "float16", "dynamic", "float32"
]
IoDtype = Literal["int8", "uint8"]
InputRange = Literal["0..255", "0..1", "-1..1"]
