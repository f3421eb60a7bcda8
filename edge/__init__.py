"""edge: the on-device runtime. Camera frames -> LiteRT -> detections -> log/MQTT.

This package never imports TensorFlow, Keras, ``converter`` or ``models``: a Raspberry
Pi installs only the base dependencies (a test enforces it).
"""

__version__ = "0.1.0"
