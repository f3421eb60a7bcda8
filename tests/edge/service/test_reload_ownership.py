"""Every interpreter a run builds is closed exactly once, through reloads that pass and
reloads that are refused (``edge.model.load.LoadedModel``: one owner closes each)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge import app
from edge.config.load import load_config
from edge.config.run import RunConfig
from edge.model.backends.litert import LiteRTBackend
from edge.pipeline.stats import RunStats
from edge.service.reload import Reloader

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"


def config(**tables: Any) -> RunConfig:
    base: dict[str, Any] = {
        "source": {"kind": "synthetic", "fps": 100},
        "sinks": [],
        "model": {"probe": False},
    }
    return load_config(None, base | tables)


def test_each_interpreter_is_closed_once_through_reloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    built: list[LiteRTBackend] = []
    closes: Counter[int] = Counter()
    build, close = LiteRTBackend.__init__, LiteRTBackend.close

    def counted_build(self: LiteRTBackend, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        built.append(self)

    def counted_close(self: LiteRTBackend) -> None:
        closes[id(self)] += 1
        close(self)

    monkeypatch.setattr(LiteRTBackend, "__init__", counted_build)
    monkeypatch.setattr(LiteRTBackend, "close", counted_close)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes((ZOO / "digits-cnn.int8.tflite").read_bytes()[:4000])
    # Each step: the config the next reload reads, and (reloads, refusals) after it.
    steps = [
        (config(model={"probe": False, "path": ZOO / "digits-vit.int8.tflite"}), (1, 0)),
        (config(decoder={"name": "ssd"}), (1, 1)),  # loads, fails its test inference
        (config(model={"probe": False, "path": corrupt}), (1, 2)),  # does not load
        (config(), (2, 2)),
    ]
    next_config = [config()]
    reloader = Reloader(config(), lambda: next_config[0])
    stop = threading.Event()
    deadline = time.monotonic() + 120
    step = [-1]

    def driver(stats: RunStats) -> None:
        """The reloader's tick, then the next step's reload once the last one is done."""
        reloader(stats)
        if stats.frames < 3 or step[0] == len(steps):
            return
        done = (reloader.reloads, reloader.refusals)
        if step[0] >= 0 and done != steps[step[0]][1]:
            if time.monotonic() > deadline:
                stop.set()
            return  # the reload asked for is still under way
        step[0] += 1
        if step[0] == len(steps):
            stop.set()
            return
        next_config[0] = steps[step[0]][0]
        reloader.request()

    try:
        app.run(config(), stop=stop, tick_hooks=[driver], on_start=reloader.attach)
    finally:
        reloader.close()
    assert step[0] == len(steps), f"stopped at step {step[0]}: {reloader.reloads} reloads"
    # start, vit, ssd (refused after loading), the last reload; the corrupt one never
    # built an interpreter.
    assert len(built) == 4
    assert [closes[id(backend)] for backend in built] == [1, 1, 1, 1]
