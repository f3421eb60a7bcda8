"""The ``patchgan`` decoder's parameters (its own module, beside ``edge.decoders.params``,
with the same rules: pydantic only, a description on every field)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.decoders.params import DecoderParams


class PatchParams(DecoderParams):
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="score (1 - mean realness over the patches) above which a frame is "
        "anomalous; 0.5 is the discriminator's own decision",
    )
    activation: Literal["auto", "sigmoid", "none"] = Field(
        "auto",
        description="sigmoid turns a logit map into realness, none takes the map as "
        "realness 0..1, auto applies sigmoid only when a value lies outside 0..1",
    )
