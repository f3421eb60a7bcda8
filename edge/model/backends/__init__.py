"""Interpreters that run a model: one verb (``infer``) plus ``close``."""

from edge.model.backends.base import Backend

__all__ = ["Backend"]
