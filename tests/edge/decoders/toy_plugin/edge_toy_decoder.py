"""A toy edge-infer decoder: whatever the model says, one class ``answer`` at ``score``.

Its answer is unlike any real classifier's (the same class at the same score on every
frame), so a record carrying it proves that ``edge run`` chose this plug-in.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from edge.decoders.params import DecoderParams
from edge.decoders.registry import Decoded, DecoderInfo, Outputs, Params
from edge.errors import ConfigError
from edge.processing.preprocess import Placement
from edge.types import Detections


class ToyParams(DecoderParams):
    answer: int = Field(7, ge=0, description="the class reported on every frame")
    score: float = Field(0.4242, gt=0.0, le=1.0, description="its score")


def decode_toy(outputs: Outputs, placement: Placement, params: Params) -> Decoded:
    del placement  # the answer does not depend on where the window is
    if not outputs:
        raise ConfigError("the toy decoder needs at least one output tensor")
    p = ToyParams.coerce(params)
    return Detections(np.asarray([p.answer], np.int64), np.asarray([p.score], np.float32)), {}


DECODER = DecoderInfo(
    name="toy",
    params=ToyParams,
    task="classify",
    module="edge_toy_decoder",
    function="decode_toy",
)
