"""edge: the on-device runtime. Camera frames -> LiteRT -> detections -> log/MQTT.

This package never imports TensorFlow, Keras, ``converter`` or ``models``: a Raspberry
Pi installs only the base dependencies (a test enforces it).
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up when asked for: importlib.metadata costs 10-60 ms, before the `edge`
    # command can install its signal handlers (edge.cli.early).
    if name != "__version__":
        raise AttributeError(f"module 'edge' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        # One source for the version: pyproject.toml, through the installed distribution.
        return version("edge-infer")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        return "0+unknown"
