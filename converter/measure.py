"""Facts measured on a converted model with LiteRT: ops left in float, and latency.

Float ops: the graph is inspected with the interpreter's op resolver WITHOUT default
delegates, because with XNNPACK applied the delegated nodes collapse into one
``DELEGATE`` op and hide what they are. An op counts as float when any of its operands
or results is float32; QUANTIZE/DEQUANTIZE are the boundary of a quantized graph and
do not count.

Latency: the median ``invoke()`` time (batch 1, 1 thread, XNNPACK as on the device)
under ai_edge_litert on THIS machine, after a warm-up. It is what the report compares
between float and quantized; the ratio on an ARM board (Cortex-A72/A76) differs, so the
report says so, and a measurement on the device is the number to trust.

On x86 the int8/float ratio depends on the CPU more than anything else: XNNPACK (in
ai-edge-litert 2.3.0) runs int8 convolutions and fully-connected layers with AVX-512
VNNI kernels, or, on a CPU with AMX (Intel Sapphire Rapids and later), with AMX tile
kernels 64 outputs wide that the shipped models' small layers cannot fill. The zoo's
reports of 2026-11-26 (int8 1.1-1.5x slower for the CNN, ViT and detector) came from
such a Xeon; the same timing code on an AVX-512 VNNI CPU without AMX measures int8
2.5x faster (docs/int8-speed.md). So ``LATENCY_NOTE`` names the CPU and the features
that pick the kernels, and ``paired_latency_ms`` times float and quantized in
alternating rounds, so that a shared machine's load falls on both alike.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from converter.quiet import native_output_captured
from edge.model.backends.litert import load_interpreter_class

BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
# CPU features that decide which XNNPACK int8 kernels run (/proc/cpuinfo flag names).
INT8_CPU_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "amx_tile",
    "asimddp",
    "i8mm",
)


def cpu_description(cpuinfo: str | None = None) -> str:
    """``"<model name> (<the int8-relevant flags it has>)"``, or the architecture alone
    where /proc/cpuinfo is missing (not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:
            return platform.machine() or "unknown CPU"
    name, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not name:
            name = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    present = [flag for flag in INT8_CPU_FLAGS if flag in flags]
    name = name or platform.machine() or "unknown CPU"
    return f"{name} ({', '.join(present) or 'none of ' + '/'.join(INT8_CPU_FLAGS)})"


LATENCY_NOTE = (
    f"median invoke() on this workstation, {cpu_description()} (ai_edge_litert, 1 thread, "
    "batch 1, float and quantized timed in alternation); int8/float ratios differ between CPUs "
    "(on x86 AMX against VNNI kernels) and on ARM boards: measure there (`edge run` "
    "prints infer ms)"
)


def _interpreter(content: bytes, **options: Any) -> Any:
    _, interpreter_class = load_interpreter_class("ai_edge_litert")
    with native_output_captured():
        interpreter = interpreter_class(model_content=content, **options)
        interpreter.allocate_tensors()
    return interpreter


def float_ops(content: bytes) -> list[str]:
    """Names of the ops that compute in float32 (one entry per op, in graph order)."""
    from ai_edge_litert.interpreter import OpResolverType

    interpreter = _interpreter(
        content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    names = []
    for op in interpreter._get_ops_details():
        types = list(op["operand_types"]) + list(op["result_types"])
        if op["op_name"] not in BOUNDARY_OPS and any(t == np.float32 for t in types):
            names.append(str(op["op_name"]))
    return names


# Types of an op that computes in integers: int8 data, int32 biases/shapes, bool masks.
_INTEGER_TYPES = (np.int8, np.uint8, np.int32, np.int64, np.bool_)
_WEIGHT_TYPES = {
    0: "float32",
    1: "float16",
    3: "uint8",
    7: "int16",
    9: "int8",
    10: "float64",
    17: "int4",
}  # schema TensorType codes of stored weights (not int32 biases)


@dataclass(frozen=True)
class Int8Share:
    """How much of a converted model is int8: ops, and stored weight values."""

    ops: float  # share of the ops (boundary QUANTIZE/DEQUANTIZE left out) computing in int8
    params: float  # share of the constant weight values stored as int8/uint8


def int8_share(content: bytes) -> Int8Share:
    """Measured on the bytes: an op is int8 when every operand and result is an integer
    type (int8 data; int32 biases); a weight is a constant tensor of a float, 8- or
    16-bit type (int32 constants are biases and shapes, left out)."""
    from ai_edge_litert.interpreter import OpResolverType
    from ai_edge_litert.schema_py_generated import Model

    interpreter = _interpreter(
        content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] not in BOUNDARY_OPS]
    integer = [
        op
        for op in ops
        if all(
            np.dtype(t).type in _INTEGER_TYPES for t in [*op["operand_types"], *op["result_types"]]
        )
    ]
    model = Model.GetRootAs(content, 0)
    counted = {"int8": 0, "other": 0}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer())
            stored = buffer.DataLength() > 0 or buffer.Size() > 0
            if not stored or tensor.IsVariable() or tensor.Type() not in _WEIGHT_TYPES:
                continue
            size = int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 1
            kind = _WEIGHT_TYPES[tensor.Type()]
            counted["int8" if kind in ("int8", "uint8", "int4") else "other"] += size
    weights = counted["int8"] + counted["other"]
    return Int8Share(
        ops=len(integer) / len(ops) if ops else 0.0,
        params=counted["int8"] / weights if weights else 0.0,
    )


def median_latency_ms(
    content: bytes,
    *,
    threads: int = 1,
    warmup: int = 10,
    min_seconds: float = 0.5,
    max_runs: int = 2000,
) -> float:
    """Median ``invoke()`` time in milliseconds on a zero input."""
    interpreter = _interpreter(content, num_threads=threads)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    times: list[float] = []
    deadline = time.perf_counter() + min_seconds
    while len(times) < max_runs and (time.perf_counter() < deadline or len(times) < 5):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def paired_latency_ms(
    first: bytes,
    second: bytes,
    *,
    threads: int = 1,
    rounds: int = 3,
    min_seconds: float = 0.5,
) -> tuple[float, float]:
    """Median ``invoke()`` ms of two models (float and quantized), timed in ``rounds``
    alternating rounds of ``min_seconds / rounds`` each, after a warm-up of both: on a
    shared machine a burst of load then slows both sides alike instead of one."""
    runners = [_invoker(content, threads) for content in (first, second)]
    times: list[list[float]] = [[], []]
    for _ in range(rounds):
        for runner, spent in zip(runners, times, strict=True):
            deadline = time.perf_counter() + min_seconds / rounds
            while time.perf_counter() < deadline or len(spent) < 5:
                start = time.perf_counter()
                runner()
                spent.append(time.perf_counter() - start)
    return statistics.median(times[0]) * 1000.0, statistics.median(times[1]) * 1000.0


def _invoker(content: bytes, threads: int, warmup: int = 10) -> Any:
    interpreter = _interpreter(content, num_threads=threads)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    return interpreter.invoke
