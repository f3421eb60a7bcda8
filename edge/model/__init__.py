"""The model a device runs: the file, what it says about itself, and the interpreter.

- ``file``: reads a ``.tflite`` file (the flatbuffer's metadata and tensors) without
  loading an interpreter;
- ``manifest``: the ``edge.manifest`` the converter embeds (task, labels, input recipe,
  decoder), and the one built for a model without it;
- ``labels``: labels files and the check that they fit a classifier;
- ``load``: file + manifest + config overrides + backend -> ``LoadedModel``;
- ``zoo``: the shipped models (``edge run``'s default);
- ``verify``: the probe of a file not verified yet, in a limited child process, and the
  record of files already verified;
- ``backends``: the interpreter behind one ``infer`` call (LiteRT).
"""
