"""Is this model file safe to load in the main process? (A corrupt or hostile
``.tflite`` can crash LiteRT, which no ``try`` catches.)

- ``probe``: load and invoke once in a limited child process; a crash, hang or error
  refuses the model with a ``ModelError``;
- ``cache``: the files already verified (shipped digests, or a record of passed probes);
- ``ahead``: the probe of the configured model started before the rest of the start-up.
"""
