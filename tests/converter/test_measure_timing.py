"""The converter's latency facts: the CPU named in the report's note, and float and
quantized timed in alternating rounds. No TensorFlow needed (real LiteRT on the shipped
zoo files); never asserts a speed, the machine is shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter import measure
from converter.measure import cpu_description, paired_latency_ms

ZOO = Path(__file__).resolve().parents[2] / "models" / "zoo"

XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8 avx_vnni
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse avx2 avx512f avx512_vnni
"""
PI5 = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm \
lrcpc dcpop asimddp
CPU part\t: 0xd0b
"""


def test_the_note_names_the_cpu_and_its_int8_kernel_features() -> None:
    assert cpu_description(XEON) == (
        "Intel(R) Xeon(R) Platinum 8480+ (avx2, avx512f, avx512_vnni, avx_vnni, amx_int8, amx_tile)"
    )
    assert cpu_description(EPYC) == "AMD EPYC 9R14 (avx2, avx512f, avx512_vnni)"
    assert cpu_description(PI5).endswith("(asimddp)")  # no model name line on a Pi
    assert cpu_description("").endswith(")")  # no cpuinfo lines: the architecture
    assert "ARM" in measure.LATENCY_NOTE and cpu_description() in measure.LATENCY_NOTE


def test_paired_latency_times_both_models_in_alternation(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    real = measure._invoker

    def tagged(content: bytes, threads: int, warmup: int = 10) -> object:
        invoke = real(content, threads, warmup)
        tag = "cnn" if content == cnn else "detector"

        def run() -> None:
            if not order or order[-1] != tag:
                order.append(tag)
            invoke()

        return run

    cnn = (ZOO / "digits-cnn.int8.tflite").read_bytes()
    detector = (ZOO / "digits-detector.int8.tflite").read_bytes()
    monkeypatch.setattr(measure, "_invoker", tagged)
    first, second = paired_latency_ms(cnn, detector, rounds=3, min_seconds=0.06)
    assert first > 0 and second > 0
    assert order == ["cnn", "detector"] * 3
