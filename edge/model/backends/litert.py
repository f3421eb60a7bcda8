"""LiteRT interpreter backend.

Runtime packages are tried in order: ``ai_edge_litert`` (the maintained one, wheels for
aarch64 up to cp314), ``tflite_runtime`` (legacy, numpy<2 only), then ``tensorflow.lite``
(workstations only: 540 MB and 3 s to import). The one in use is reported in
``runtime``. The model is given as bytes because LiteRT runs its flatbuffer verifier
only for in-memory models; a file path skips it and a corrupt file can crash.

Outputs are read with ``get_tensor`` (a copy), never ``tensor()`` views: a view held
across the next ``invoke()`` would see its buffer overwritten. The input goes in with
``set_tensor`` (a copy) too: the pipeline preprocesses the next frame while this one
runs, so it cannot write into the interpreter's own input tensor, and for these input
sizes the copy costs about a microsecond (docs/benchmarks.md).

LiteRT's C++ side writes "INFO: Created TensorFlow Lite XNNPACK delegate" straight to
file descriptor 2 when an interpreter is built, under every status line a user reads.
``native_stderr_filtered`` keeps it out without swallowing anything else: while a block
is inside, fd 2 is a pipe, and a thread passes every line that is not LiteRT's noise on
to the real stderr as it comes. fd 2 is process-wide, so the lines other threads write
meanwhile (the loop's log while a reload loads a model on its worker thread, a progress
bar) go through the same pipe and reach stderr unchanged, a moment later, in their
order but for one seam: as a block ends, a line written just before it (still in the
pipe) can come out after one written just after it (straight to stderr).

The alternative, a lock so only the loader redirects and Python's logging writing to a
copy of the real fd, would still swallow what other threads write to fd 2 without
``logging`` (native libraries, ``print``, a progress bar), and a load stuck in native
code would hold stderr for as long. Blocks nest and may overlap on several threads, so
``edge bench`` can wrap its whole run in one to keep the noise out of its report.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from edge.errors import BackendError, ModelError
from edge.model.backends.base import Array
from edge.types import TensorSpec

log = logging.getLogger(__name__)
RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
# Runtime -> (module to import, attribute path to its Interpreter class). TensorFlow's is
# reached through the top-level package: importing ``tensorflow.lite`` by name gives the
# bare sub-package, which has no ``Interpreter`` (TensorFlow 2.21).
_MODULES = {
    "ai_edge_litert": ("ai_edge_litert.interpreter", "Interpreter"),
    "tflite_runtime": ("tflite_runtime.interpreter", "Interpreter"),
    "tensorflow": ("tensorflow", "lite.Interpreter"),
}


def load_interpreter_class(runtime: str = "auto") -> tuple[str, Any]:
    """Return ``(runtime name, Interpreter class)`` of the first runtime that imports."""
    candidates = RUNTIMES if runtime == "auto" else (runtime,)
    failures: list[str] = []
    for name in candidates:
        if name not in _MODULES:
            raise BackendError(
                f"unknown runtime {name!r}; choose one of auto, {', '.join(RUNTIMES)}"
            )
        module_name, attributes = _MODULES[name]
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
            continue
        for attribute in attributes.split("."):
            found = getattr(found, attribute, None)
        if found is None:
            failures.append(f"{name}: {module_name} has no {attributes}")
            continue
        return name, found
    raise BackendError(
        "no TFLite runtime could be imported (" + "; ".join(failures) + ")",
        hint="pip install ai-edge-litert",
    )


class LiteRTBackend:
    """One interpreter, built once, reused for every frame. ``close`` frees it; it is
    called by the backend's one owner (``edge.model.load.LoadedModel``), and an
    ``infer`` after it raises ``BackendError``."""

    def __init__(
        self, content: bytes, *, threads: int = 2, runtime: str = "auto", origin: str = "model"
    ) -> None:
        self.runtime, interpreter_class = load_interpreter_class(runtime)
        self.origin = origin
        try:
            with native_stderr_filtered():
                interpreter = interpreter_class(model_content=content, num_threads=threads)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{origin}: {self.runtime} cannot load this model: {exc}",
                hint="the file may be corrupt or need ops this runtime lacks; "
                "re-convert it with `edge convert`, or upgrade ai-edge-litert",
            ) from exc
        self.threads = threads
        self._interpreter: Any = interpreter
        self.inputs = tuple(_spec(d) for d in interpreter.get_input_details())
        self.outputs = tuple(_spec(d) for d in interpreter.get_output_details())

    def infer(self, inputs: Sequence[Array]) -> list[Array]:
        interpreter = self._interpreter
        if interpreter is None:
            raise BackendError(f"{self.origin}: inference after the interpreter was closed")
        if len(inputs) != len(self.inputs):
            raise BackendError(f"model takes {len(self.inputs)} inputs, got {len(inputs)}")
        try:
            for spec, value in zip(self.inputs, inputs, strict=True):
                interpreter.set_tensor(spec.index, value)
            interpreter.invoke()
            return [interpreter.get_tensor(spec.index) for spec in self.outputs]
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"inference failed in {self.runtime}: {exc}") from exc

    def close(self) -> None:
        """Free the interpreter (an ``infer`` still running on another thread finishes
        with it first: it holds its own reference)."""
        self._interpreter = None


# Lines LiteRT's C++ side writes to fd 2 that nobody needs (by their start).
LITERT_NOISE = (b"INFO: Created TensorFlow Lite",)
_PIPE_SIZE = 1 << 20  # room for a verbose load's output while its thread holds the GIL


class _StderrFilter:
    """fd 2 pointed at a pipe while at least one block is inside (blocks nest and may
    run on several threads at once); a pump thread passes the lines that are not
    ``LITERT_NOISE`` on to the real stderr. See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._real: int | None = None  # the real stderr while redirected
        self._pump: threading.Thread | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._redirect()
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._restore()

    def _redirect(self) -> None:
        """Point fd 2 at a pipe read by a pump thread; leave it alone if any step fails
        (no usable stderr, as in a daemon with fd 2 closed; no file descriptor left)."""
        _flush_python_stderr()  # what Python buffered so far goes out first, directly
        opened: list[int] = []
        try:
            real = os.dup(2)
            opened.append(real)
            read_end, write_end = os.pipe()
            opened += [read_end, write_end]
            copy = os.dup(real)
            opened.append(copy)
            if sys.platform == "linux":  # elsewhere the pipe holds 64 KiB
                import fcntl

                with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size
                    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            # The pump writes to its own copy of the real stderr: it outlives the block
            # while a child process started meanwhile still holds the pipe.
            pump = threading.Thread(
                target=_pump, args=(read_end, copy), name="stderr-filter", daemon=True
            )
            pump.start()  # reads until every write end is closed
        except (OSError, RuntimeError):  # RuntimeError: no thread could be started
            for fd in opened:
                os.close(fd)
            return
        os.dup2(write_end, 2)
        os.close(write_end)
        self._real, self._pump = real, pump

    def _restore(self) -> None:
        real, pump = self._real, self._pump
        if real is None or pump is None:
            return
        self._real = self._pump = None
        _flush_python_stderr()  # what Python buffered inside the block goes to the pipe
        os.dup2(real, 2)  # closes the pipe's last write end (unless a child holds one)
        os.close(real)
        pump.join(timeout=1.0)  # the block's lines are out before the caller goes on


native_stderr_filtered = _StderrFilter()
"""``with native_stderr_filtered():`` keeps ``LITERT_NOISE`` off stderr for the block,
and nothing else (safe to nest and to use from several threads)."""


def _flush_python_stderr() -> None:
    if sys.stderr is not None:  # None: started without one (pythonw, some daemons)
        with contextlib.suppress(OSError, ValueError):  # closed, or its fd is gone
            sys.stderr.flush()


def _pump(read_end: int, real: int) -> None:
    """Copy the pipe to the real stderr until every write end is closed, leaving out the
    noise lines. A line is held back only while it may still become one (it starts like
    a ``LITERT_NOISE`` entry), so a progress bar redrawn in place stays live."""
    head = b""  # the start of the current line, while undecided
    passing: bool | None = None  # the current line's verdict, once known
    try:
        while chunk := os.read(read_end, 65536):
            while chunk:
                part, newline, chunk = chunk.partition(b"\n")
                part += newline
                ended = bool(newline)
                if passing is None:
                    head += part
                    line = head.rstrip(b"\r\n")
                    noise = line.startswith(LITERT_NOISE)
                    undecided = any(start.startswith(line) for start in LITERT_NOISE)
                    if noise or ended or not undecided:
                        passing, part, head = not noise, head, b""
                if passing:
                    _write_all(real, part)
                if ended:
                    passing = None
        if head:  # the last line, unfinished and undecided: not noise
            _write_all(real, head)
    finally:
        os.close(read_end)
        os.close(real)


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # stderr gone: nothing to tell anyone
        while data:
            data = data[os.write(fd, data) :]


def _spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        name=str(detail["name"]),
        index=int(detail["index"]),
        shape=tuple(int(v) for v in detail["shape"]),
        dtype=detail["dtype"].__name__,
        scale=float(scale),
        zero_point=int(zero_point),
    )
