"""Raw output tensors -> ``Detections``: one module per kind of head.

- ``registry``: the one table of decoders (a ``DecoderInfo`` row each: name, parameter
  model, task, aliases, module and function), the lookups by name (``decoder_info``,
  ``get_decoder``, ``params_model``, ``task_of``, ``default_decoder``) and the checks of
  a decoder's settings. A decoder's module is imported only when a run chooses it;
- ``params``: each built-in decoder's settings as a pydantic model (imports only
  pydantic, so the config can check a ``[decoder]`` table without loading a decoder);
- ``classify``, ``centernet`` (the project's detector), ``anomaly``, ``ssd``
  (TF-Lite's detection post-process), ``yolo`` (YOLOv5, YOLOv8/11): the decoders;
- ``heads``: which decoder fits the outputs of a model that has no manifest (the
  converter's detect task asks it too).

Plug-ins: another installed package adds a decoder through the entry-point group
``edge_infer.decoders``. The entry point's name is the decoder's name, and it loads an
``edge.decoders.registry.DecoderInfo`` of that name::

    [project.entry-points."edge_infer.decoders"]
    mydec = "mypkg.rows:MYDEC"

    # mypkg/rows.py (cheap to import: the function's module is imported when chosen)
    MYDEC = DecoderInfo(name="mydec", params=MyParams, task="detect",
                        module="mypkg.decode", function="decode_mydec")

``MyParams`` subclasses ``edge.decoders.params.DecoderParams``; the function has the
built-in decoders' signature (``registry``'s docstring). The plug-ins are loaded only
for a name that is not built in (then all of them) or to list every decoder in an error
message; one that fails to import, is not a ``DecoderInfo``, is named unlike its entry
point, or takes a name already taken (a built-in decoder's or another plug-in's) is a
``ConfigError`` (exit 78) naming the entry point and its package.
"""
