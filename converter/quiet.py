"""Keep TensorFlow's log noise off the user's terminal.

TensorFlow writes from C++ straight to file descriptors 1 and 2 (absl/glog lines,
``fully_quantize: 0, inference_type: 6 ...`` from the quantizer, LiteRT's ``INFO:
Created TensorFlow Lite XNNPACK delegate``), so Python-level redirection cannot catch
it. ``native_output_captured`` points both descriptors at a temporary file for the
duration of a block and hands back the captured text, which callers attach to error
messages when a conversion fails (the log is noise on success and evidence on failure).

Progress bars must still reach the terminal while fd 2 is redirected, so the block gets
a text stream on a duplicate of the ORIGINAL stderr descriptor.

``TF_CPP_MIN_LOG_LEVEL`` is only given a default: a user who sets it to 0 to debug a
conversion gets the full log (on failure, in the error message).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from edge.errors import ConversionError


@functools.cache
def import_tensorflow() -> Any:
    """Import TensorFlow quietly (once), or say which extra to install."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with native_output_captured():
            import tensorflow as tf
    except ImportError as exc:
        raise ConversionError(
            f"the converter needs TensorFlow, which cannot be imported ({exc})",
            hint="install the workstation extra: pip install 'edge-infer[convert]'",
        ) from exc
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


@dataclass
class Captured:
    """What the block wrote to fds 1 and 2 (filled in when the block ends)."""

    terminal: TextIO
    text: str = field(default="")

    def tail(self, lines: int = 12) -> str:
        kept = [line for line in self.text.splitlines() if line.strip()]
        return "\n".join(kept[-lines:])


@contextlib.contextmanager
def native_output_captured() -> Iterator[Captured]:
    """Redirect fds 1 and 2 to a temp file; ``Captured.terminal`` is the real stderr."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8", errors="replace")
    captured = Captured(terminal=terminal)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            # Python-level prints from TF/Keras land in the same file, in order.
            with contextlib.redirect_stdout(_FdWriter(1)), contextlib.redirect_stderr(_FdWriter(2)):
                yield captured
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(AttributeError, ValueError, OSError):
                    stream.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace")


class _FdWriter(io.TextIOBase):
    """A text stream that writes straight to a file descriptor (no buffering to lose)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def write(self, text: str) -> int:
        os.write(self._fd, text.encode("utf-8", errors="replace"))
        return len(text)

    def writable(self) -> bool:
        return True


# Set by ``converter.worker`` when the parent's stderr is a terminal: the child's own
# stderr is then a pipe to the parent, and tqdm (which draws only on a terminal) must be
# told that the bars will reach one.
PROGRESS_REACHES_A_TERMINAL = False


@contextlib.contextmanager
def progress_terminal(enabled: bool) -> Iterator[TextIO | None]:
    """Capture native noise; hand back the terminal for progress bars (or None)."""
    with native_output_captured() as log:
        if not enabled:
            yield None
        elif PROGRESS_REACHES_A_TERMINAL:
            yield cast(TextIO, _RelayedTerminal(log.terminal))  # writes text, as tqdm needs
        else:
            yield log.terminal


class _RelayedTerminal(io.TextIOBase):
    """A pipe whose far end is a terminal: it says so, so progress bars are drawn."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True
