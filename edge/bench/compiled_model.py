"""``edge bench``'s second raw measurement: the model through LiteRT's ``CompiledModel``
API (ai-edge-litert 2.x) instead of the ``Interpreter`` that ``edge run`` uses.

The loop is the counterpart of ``edge.bench.run.raw_invoke``, one frame's worth of work:
write the input into the model's input buffer (``TensorBuffer.write``, a copy, like
``set_tensor``), ``run_by_index``, read every output (``TensorBuffer.read``, a copy, like
``get_tensor``). Zero-copy input (``TensorBuffer.create_from_host_memory`` on the
preprocessing array) does not work in ai-edge-litert 2.3.0: the buffer it makes is a
flat 1-D tensor and ``run`` refuses it ("Cannot auto-resize tensor ...: no
dims_signature exists"), so it is tried and reported, not used.

The runtime prints plugin and accelerator lines straight to file descriptor 2 while it
builds the model (a missing OpenVINO plugin, the WebGPU accelerator); they are kept out
of the bench's output and attached to the report only when the API fails.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class CompiledApiError(Exception):
    """The API could not build or run this model here (the reason is the message)."""


@dataclass
class CompiledRunner:
    once: Callable[[], None]
    fully_accelerated: bool
    zero_copy_input: bool


@contextmanager
def compiled_runner(model: Path, threads: int) -> Iterator[CompiledRunner]:
    """A ready ``CompiledModel`` loop body for ``model``; ``CompiledApiError`` if the API
    fails. The runtime's native prints stay hidden until the model is freed again."""
    with _fd2_captured() as captured:
        try:
            compiled, signature = _compile(model.read_bytes(), threads)
        except (ImportError, RuntimeError, ValueError) as exc:
            raise CompiledApiError(_reason(exc, captured)) from None
        try:
            runner = _runner(compiled, signature)
            for _ in range(5):  # warm-up, as the Interpreter loop
                runner.once()
        except (RuntimeError, ValueError, KeyError) as exc:
            compiled.close()
            raise CompiledApiError(_reason(exc, captured)) from None
        try:
            yield runner
        finally:
            compiled.close()
            del compiled, runner
            gc.collect()  # frees the environment while its lines are still captured


def _runner(compiled: Any, signature: int) -> CompiledRunner:
    inputs = compiled.create_input_buffers(signature)
    outputs = compiled.create_output_buffers(signature)
    key = list(compiled.get_signature_list())[signature]
    in_details = list(compiled.get_input_tensor_details(key).values())
    out_details = list(compiled.get_output_tensor_details(key).values())
    arrays = [np.zeros(d["shape"], dtype=np.dtype(d["dtype"])) for d in in_details]
    sizes = [(int(np.prod(d["shape"])), np.dtype(d["dtype"])) for d in out_details]
    zero_copy = _zero_copy_works(compiled, signature, arrays, outputs)

    def once() -> None:
        for buffer, array in zip(inputs, arrays, strict=True):
            buffer.write(array)
        compiled.run_by_index(signature, inputs, outputs)
        for buffer, (count, dtype) in zip(outputs, sizes, strict=True):
            buffer.read(count, dtype)

    return CompiledRunner(once, bool(compiled.is_fully_accelerated()), zero_copy)


def _reason(exc: BaseException, captured: _Captured) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    tail = captured.text().strip().splitlines()[-1:]
    return " | ".join([f"{type(exc).__name__}: {first}", *tail])


def _compile(content: bytes, threads: int) -> tuple[Any, int]:
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import CpuOptions, Options

    options = Options(
        hardware_accelerators=HardwareAccelerator.CPU, cpu_options=CpuOptions(num_threads=threads)
    )
    compiled = CompiledModel.from_buffer(content, options=options)
    return compiled, 0  # the first (usually the only) signature, as LiteRT's tool does


def _zero_copy_works(compiled: Any, signature: int, arrays: list[Any], outputs: list[Any]) -> bool:
    """Whether an input buffer over our own array (no copy per frame) runs."""
    from ai_edge_litert.tensor_buffer import TensorBuffer

    try:
        views = [TensorBuffer.create_from_host_memory(array) for array in arrays]
        compiled.run_by_index(signature, views, outputs)
    except (RuntimeError, ValueError):
        return False
    return True


class _Captured:
    """What the block wrote to fd 2, readable once the block has ended."""

    def __init__(self) -> None:
        self.saved = ""

    def text(self) -> str:
        return self.saved


@contextmanager
def _fd2_captured() -> Iterator[_Captured]:
    """File descriptor 2 into a temporary file for the block (native prints land there)."""
    captured = _Captured()
    with tempfile.TemporaryFile() as handle:
        try:
            saved = os.dup(2)
        except OSError:  # no usable stderr: nothing to keep quiet
            yield captured
            return
        os.dup2(handle.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            handle.seek(0)
            captured.saved = handle.read().decode("utf-8", "replace")
