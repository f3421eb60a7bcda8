"""Measuring a model on labelled data, on the device that runs it: ``edge eval``.

- ``metrics``: the task metrics as plain numpy functions (accuracy, mAP@0.5, ROC-AUC,
  PSNR/SQNR), the one implementation the converter's report and ``edge eval`` share;
- ``layout``: the ``.npz`` layout each task reads (arrays, their meaning), the text
  ``edge eval --help`` and the errors quote; no imports, so building the command line
  parser stays cheap;
- ``data``: reading and checking such a file against the model;
- ``run``: the model over the samples the device's way, decoded for the task, and the
  figure.

Nothing here imports TensorFlow, ``converter`` or ``models``: a Pi measures with the
runtime it deploys on (ARM int8 kernels round differently from x86 ones).
"""
