"""The base of every config table: pydantic, ``extra="forbid"``, so a
misspelt key is an error, never ignored, and ``allow_inf_nan=False``: no setting of a
camera, a model or a sink means anything at NaN or infinity (``record_fps = inf`` spun a
core at 100 %, ``scale = nan`` silently blanked every input), so TOML's ``nan`` and
``inf`` are refused with the key's name.

Every number also has an upper bound a real deployment stays far below
(``tests/edge/config/test_bounds.py`` fails on one without): ``1e308`` seconds overflows
the first ``int()`` or timestamp it meets.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
