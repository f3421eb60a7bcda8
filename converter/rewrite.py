"""Model rewrites applied before conversion (placeholder: filled in by the ViT work).

``rewrite_for_quantization`` returns the model to convert and human-readable notes on
what was changed; it raises ``ConversionError`` when a rewritten model does not match
the original on real inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def rewrite_for_quantization(
    model: Any, sample: npt.NDArray[np.float32], *, enabled: bool = True
) -> tuple[Any, list[str]]:
    del sample, enabled
    return model, []
