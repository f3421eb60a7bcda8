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
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from edge.errors import BackendError, ModelError
from edge.model.backends.base import Array
from edge.types import TensorSpec

log = logging.getLogger(__name__)
RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
_MODULES = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite",
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
        try:
            module = importlib.import_module(_MODULES[name])
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
            continue
        return name, module.Interpreter
    raise BackendError(
        "no TFLite runtime could be imported (" + "; ".join(failures) + ")",
        hint="pip install ai-edge-litert",
    )


class LiteRTBackend:
    """One interpreter, built once, reused for every frame."""

    def __init__(
        self, content: bytes, *, threads: int = 2, runtime: str = "auto", origin: str = "model"
    ) -> None:
        self.runtime, interpreter_class = load_interpreter_class(runtime)
        try:
            with _native_stderr_filtered():
                self._interpreter = interpreter_class(model_content=content, num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{origin}: {self.runtime} cannot load this model: {exc}",
                hint="the file may be corrupt or need ops this runtime lacks; "
                "re-convert it with `edge convert`, or upgrade ai-edge-litert",
            ) from exc
        self.threads = threads
        self.inputs = tuple(_spec(d) for d in self._interpreter.get_input_details())
        self.outputs = tuple(_spec(d) for d in self._interpreter.get_output_details())

    def infer(self, inputs: Sequence[Array]) -> list[Array]:
        if len(inputs) != len(self.inputs):
            raise BackendError(f"model takes {len(self.inputs)} inputs, got {len(inputs)}")
        try:
            for spec, value in zip(self.inputs, inputs, strict=True):
                self._interpreter.set_tensor(spec.index, value)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(spec.index) for spec in self.outputs]
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"inference failed in {self.runtime}: {exc}") from exc

    def close(self) -> None:
        self._interpreter = None


@contextmanager
def _native_stderr_filtered() -> Iterator[None]:
    """Hide LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" line.

    The C++ runtime writes it straight to file descriptor 2, under every status line a
    user reads. Anything else it writes there is passed on through ``logging``.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (a daemon with fd 2 closed): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not line.startswith("INFO: Created TensorFlow Lite"):
                    log.warning("%s", line)


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
