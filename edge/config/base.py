"""The base of every config table: pydantic, ``extra="forbid"``, so a
misspelt key is an error, never ignored.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, ConfigDict

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10 on older Pi OS images
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
