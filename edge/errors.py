"""The one exception tree of the project.

Every error a user can cause says what happened, what was expected and how to fix it.
Third-party errors (LiteRT, OpenCV, pydantic) are translated at the boundary with
``raise ... from exc`` so callers only ever catch ``EdgeError``.

Each class carries the process exit code the CLI uses for it:
0 ok, 1 runtime failure, 2 usage error, 78 configuration error (EX_CONFIG; the
systemd unit uses ``RestartPreventExitStatus=78`` so bad configuration does not
cause a restart loop).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78


class EdgeError(Exception):
    """Base class of every error this project raises on purpose."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  fix: {self.hint}"
        return self.message


class ConfigError(EdgeError):
    """The configuration (file, flags or a model file it names) cannot work as given.

    Restarting will not help, hence exit code 78.
    """

    exit_code = EXIT_CONFIG


class ModelError(ConfigError):
    """The model file is missing, is not a TFLite model, or lacks facts the run needs."""


class UsageError(EdgeError):
    """The command line itself is wrong (argparse reports most of these)."""

    exit_code = EXIT_USAGE


class SourceError(EdgeError):
    """A frame source could not be opened or stopped delivering frames.

    Exit code 1: a camera that is missing now may be plugged in before a restart.
    """


class SinkError(EdgeError):
    """A result sink could not be opened or written."""


class BackendError(EdgeError):
    """The interpreter failed to load or run a model."""


class ConversionError(EdgeError):
    """The converter could not produce a model that meets the request."""


class DataError(ConversionError):
    """Calibration or evaluation data is missing, empty or of the wrong shape."""
