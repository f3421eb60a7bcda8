"""The backend contract: ``infer(inputs) -> outputs`` plus ``close()``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.types import TensorSpec

Array = npt.NDArray[np.generic]


class Backend(Protocol):
    """Runs one model. ``outputs`` are fresh arrays the caller may keep."""

    runtime: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def infer(self, inputs: Sequence[Array]) -> list[Array]: ...

    def close(self) -> None: ...


def dequantize(values: Array, spec: TensorSpec) -> npt.NDArray[np.float32]:
    """Quantized output codes -> real values, ``(q - zero_point) * scale``.

    8-bit codes go through a 256-entry table built once per tensor: one lookup per value
    instead of three float passes, on every frame's every output."""
    if not spec.quantized:
        return values.astype(np.float32)
    if values.dtype in (np.int8, np.uint8):
        table = _table(spec.scale, spec.zero_point, values.dtype == np.int8)
        return np.take(table, values.view(np.uint8))
    return ((values.astype(np.float32) - spec.zero_point) * spec.scale).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _table(scale: float, zero_point: int, signed: bool) -> npt.NDArray[np.float32]:
    """Real value of each byte, indexed by the byte read as uint8."""
    codes = np.arange(256, dtype=np.uint8)
    as_numbers = codes.view(np.int8) if signed else codes
    return ((as_numbers.astype(np.float32) - zero_point) * scale).astype(np.float32)
