"""``python -m edge``: the same program as the ``edge`` command."""

from edge.cli import entry

entry()
