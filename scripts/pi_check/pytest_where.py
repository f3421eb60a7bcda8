"""A pytest plugin for scripts/test-pi.sh: the report header says where the tests import
edge, numpy and OpenCV from, so the log shows that they ran against the device venv (the
installed wheel, numpy 1.26, OpenCV 4.11) and not the clone's sources.

    PYTHONPATH=DIR_OF_THIS_FILE pytest -p pytest_where --import-mode=append ...
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    import cv2
    import numpy

    import edge

    return [
        f"pi-check: edge from {Path(edge.__file__).parent}, numpy {numpy.__version__} "
        f"from {Path(numpy.__file__).parent}, opencv {cv2.__version__}"
    ]
