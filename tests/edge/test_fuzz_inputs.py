"""Fuzz the config and the manifest readers: 5,000 mutated TOML configs and 5,000
mutated manifests (hypothesis); every one is either accepted or refused with an
``EdgeError``, never another exception, and each is done within 2 s.

Deselected by default (``fuzz`` marker): ``pytest -s -m fuzz tests/edge/test_fuzz_inputs.py``
prints the number of cases and the longest one.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.config.load import load_config
from edge.errors import EdgeError
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.model.zoo import zoo_file

pytestmark = pytest.mark.fuzz

CASES = 5000
LIMIT_S = 2.0

BASE_CONFIG = """\
device = "pi-kitchen"
max_frames = 1000
status_interval = 5.0
[model]
threads = 2
probe_timeout = 20.0
[model.input]
scale = 0.5
offset = 0.0
[decoder]
top_k = 1
[filters]
deny = ["cat"]
thresholds = {dog = 0.5}
[motion]
heartbeat = 30.0
[source]
kind = "synthetic"
fps = 30.0
seed = 3
[output]
record_fps = 25.0
[[sinks]]
kind = "jsonl"
path = "d.jsonl"
max_bytes = 1000
[[sinks]]
kind = "mqtt"
host = "broker"
close_timeout = 5.0
"""

HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "1e308",
    "-1e308",
    "0",
    "9223372036854775807",
    '""',
    "[" * 40 + "]" * 40,
    "{a = " * 40 + "1" + "}" * 40,
    '"\\u0000"',
    "[]",
    "{}",
    "true",
    '"/dev/zero"',
    '"' + "x" * 10_000 + '"',
    "1979-05-27",
    "'''\n'''",
    "[[sinks]]",
]


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    for where, kind, value in edits:
        position = where % (len(text) + 1)
        if kind == 0:  # replace the value after the next '='
            eq = text.find("=", position)
            if eq >= 0:
                end = text.find("\n", eq)
                end = len(text) if end < 0 else end
                text = text[: eq + 1] + " " + value + text[end:]
        elif kind == 1:  # insert
            text = text[:position] + value + text[position:]
        else:  # delete a span
            text = text[:position] + text[position + len(value) :]
    return text


EDITS = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.integers(0, 2),
        st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)),
    ),
    min_size=1,
    max_size=4,
)


class TooSlowError(Exception):
    pass


@contextmanager
def bounded(times: list[float]) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise TooSlowError(f"a case took more than {LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        times.append(time.perf_counter() - start)


def _report(what: str, times: list[float]) -> None:
    print(f"\n{what}: {len(times)} cases, longest {max(times) * 1000:.1f} ms")


def test_mutated_configs(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "edge.toml"
    times: list[float] = []

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(EDITS)
    def one(edits: list[tuple[int, int, str]]) -> None:
        path.write_text(_mutate(BASE_CONFIG, edits), encoding="utf-8", errors="surrogatepass")
        with bounded(times), suppress(EdgeError):
            load_config(path)

    one()
    _report("configs", times)
    assert len(times) >= CASES


def _manifest_text() -> str:
    raw = read_model_file(zoo_file("digits-cnn.int8.tflite")).metadata[METADATA_NAME]
    return raw.decode()


def test_mutated_manifests() -> None:
    base = _manifest_text()
    hostile = [*HOSTILE, "NaN", "Infinity", "-Infinity", "1e999", "[" * 5000, "{" * 5000]
    times: list[float] = []
    check: Callable[[str], object] = lambda text: parse_manifest(text.encode(), origin="m")  # noqa: E731

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(
            st.tuples(
                st.integers(0, 10_000),
                st.integers(0, 2),
                st.one_of(st.sampled_from(hostile), st.text(max_size=8)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def one(edits: list[tuple[int, int, str]]) -> None:
        text = _mutate(base.replace(":", "="), edits).replace("=", ":")
        with bounded(times), suppress(EdgeError):
            check(text)

    one()
    _report("manifests", times)
    assert len(times) >= CASES
    json.loads(base)  # the base itself parses
