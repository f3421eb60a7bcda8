"""The backend contract: ``infer(inputs) -> outputs`` plus ``close()``."""

from __future__ import annotations

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
    """Quantized output codes -> real values, ``(q - zero_point) * scale``."""
    if not spec.quantized:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - spec.zero_point) * spec.scale).astype(np.float32)
