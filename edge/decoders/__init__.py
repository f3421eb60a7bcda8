"""Raw output tensors -> ``Detections``: one module per kind of head.

- ``registry``: the table of decoders by name and the lookup (a decoder's module is
  imported only when a run chooses it);
- ``params``: each decoder's settings as a pydantic model (imports only pydantic, so the
  config can check a ``[decoder]`` table without loading a decoder);
- ``classify``, ``centernet`` (the project's detector), ``anomaly``, ``ssd``
  (TF-Lite's detection post-process), ``yolo`` (YOLOv5, YOLOv8/11): the decoders;
- ``heads``: which decoder fits the outputs of a model that has no manifest.
"""
