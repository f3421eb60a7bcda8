"""The frame loop of ``edge run``: frames in, records out.

- ``loop``: the loop itself (source -> model -> sinks and observers), its tick hooks;
- ``readers``: the source read on its own thread (latest frame or every frame);
- ``stages``: preprocessing, inference and decoding as overlapping stages, and the swap
  of a reloaded model;
- ``inference``: one model's preprocess -> invoke -> decode;
- ``control``: the settings a running loop takes from outside (MQTT commands).
"""
