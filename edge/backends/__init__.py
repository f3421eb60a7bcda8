"""Interpreters that run a model: one verb (``infer``) plus ``close``."""

from edge.backends.base import Backend

__all__ = ["Backend"]
