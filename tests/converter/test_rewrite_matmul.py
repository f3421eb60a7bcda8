"""``converter.rewrite.symmetric_batch_matmul_rhs``: int8 attention matmuls go to XNNPACK.

The tiny ViT-like model of ``test_rewrite`` (two attention blocks: four BATCH_MATMULs),
converted to int8 with the LayerNorm rewrite. Before: its BATCH_MATMULs run on the
builtin kernel (a right-hand input with a non-zero zero point); after: none does, no op
turned float, and the outputs stay within a few quantization steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.vit_int8_speed import ops_outside_xnnpack
from converter.measure import float_ops
from converter.rewrite import rewrite_for_quantization, symmetric_batch_matmul_rhs
from tests.converter.test_rewrite import _convert, _keras, _vit_like


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def int8(sample: np.ndarray) -> bytes:
    model, _ = rewrite_for_quantization(_vit_like(_keras()), sample)
    return _convert(model, sample, "int8")


def _run(content: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    from converter.quiet import native_output_captured

    with native_output_captured():
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    rows: list[Any] = []
    for v in x:
        interpreter.set_tensor(inp["index"], (v[None] - 128).astype(np.int8))
        interpreter.invoke()
        scale, zero = out["quantization"]
        rows.append((interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale)
    return np.array(rows)


def test_attention_matmuls_move_into_xnnpack(int8: bytes, sample: np.ndarray) -> None:
    assert ops_outside_xnnpack(int8).get("BATCH_MATMUL", 0) >= 1  # else nothing to fix
    fixed, notes = symmetric_batch_matmul_rhs(int8)
    assert "BATCH_MATMUL" not in ops_outside_xnnpack(fixed)
    assert float_ops(fixed) == []
    assert len(notes) == 1 and "int8 BATCH_MATMUL ops symmetric" in notes[0]
    # Less than one bit coarser on the changed tensors: outputs within a few steps.
    np.testing.assert_allclose(_run(fixed, sample), _run(int8, sample), atol=6 / 256)


def test_symmetric_rewrite_is_idempotent(int8: bytes) -> None:
    fixed, _ = symmetric_batch_matmul_rhs(int8)
    assert symmetric_batch_matmul_rhs(fixed) == (fixed, [])
