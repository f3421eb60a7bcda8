"""Zones, masks, counts and line crossings: *where* things are, on top of the detections.

- ``geometry``: vectorised point-in-polygon, box-overlaps-polygon and segment-crosses-line
  tests (numpy, one call per frame for every zone and detection);
- ``rules``: a zone's or line's filters (labels, score, area) compiled to arrays;
- ``presence``: per track and zone, the in/out state with its inertia;
- ``engine``: masks -> tracker -> zone presence and line crossings, per inferred frame;
- ``records``: what the engine adds to ``edge.result/2`` records and the ``edge.event/2``
  ``enter|leave|cross`` events;
- ``draw``: zones, lines and their counts drawn on a picture (preview, recording,
  ``edge zones check``).

The config is ``edge.config.zones``; docs/zones.md is the user's reference.
"""
