"""edge: the on-device runtime. Camera frames -> LiteRT -> detections -> log/MQTT.

This package never imports TensorFlow, Keras, ``converter`` or ``models``: a Raspberry
Pi installs only the base dependencies (a test enforces it).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source for the version: pyproject.toml, through the installed distribution.
    __version__ = version("edge-infer")
except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
    __version__ = "0+unknown"
