"""Tests of ``edge/http`` (the folder is not ``tests/edge/http``: a package named ``http``
there would hide the standard library's ``http`` from ``tests/edge/mjpeg_server.py``, which
runs as a script from ``tests/edge``)."""
