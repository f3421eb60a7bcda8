"""``edge bench``: where the time of a frame goes on this device.

- ``run``: the benchmark (load, invoke, the whole pipeline) and its report;
- ``compiled_model``: the same model through LiteRT's ``CompiledModel`` API, to compare
  it with the ``Interpreter``.
"""
