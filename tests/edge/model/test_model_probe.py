"""Untrusted ``.tflite`` files are tried in a limited child process first.

The fuzz corpus is built here from the shipped models: truncations, random byte flips and
overwritten 32-bit words (the offsets and sizes a flatbuffer is made of). Every file is
probed from this (the main) process; a file the probe accepts is then loaded and invoked
here too, which is what ``edge run`` does next. The main process must never crash or hang:
each file ends in a pass or a ``ModelError``. 200 files in the normal suite, 1,200 with
``pytest -m fuzz``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import EdgeError, ModelError
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.verify import probe as model_probe
from edge.model.verify.probe import probe_model
from tests.conftest import RunEdge
from tests.edge.waiting import wait_for

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"
SEEDS = [
    "digits-cnn.int8.tflite",
    "digits-detector.int8.tflite",
    "digits-vit.int8.tflite",
    "digits-anomaly.int8.tflite",
]


def mutants(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    originals = {name: (ZOO / name).read_bytes() for name in SEEDS}
    corpus = []
    for n in range(count):
        name = SEEDS[n % len(SEEDS)]
        data = bytearray(originals[name])
        kind = n % 4
        if kind == 0:  # truncated anywhere, often inside the header and tables
            cut = rng.choice([rng.randrange(0, 256), rng.randrange(0, len(data))])
            data = data[:cut]
        elif kind == 1:  # random bytes flipped
            for _ in range(rng.randint(1, 32)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:  # 32-bit words (offsets, sizes, indices) overwritten
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(0, len(data) - 4) & ~3
                data[at : at + 4] = rng.choice(
                    [b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", rng.randbytes(4)]
                )
        else:  # the first 4 KiB (root table, subgraphs, tensors) scrambled
            for _ in range(rng.randint(1, 16)):
                data[rng.randrange(min(4096, len(data)))] = rng.randrange(256)
        corpus.append((f"{name}#{n}:{('cut', 'flip', 'word', 'head')[kind]}", bytes(data)))
    return corpus


def _try(item: tuple[str, bytes]) -> tuple[str, str, float]:
    name, content = item
    started = time.monotonic()
    try:
        probe_model(content, origin=name, timeout=20)
    except ModelError as exc:
        return name, "refused: " + exc.message, time.monotonic() - started
    return name, "passed", time.monotonic() - started


def run_corpus(count: int, seed: int) -> dict[str, int]:
    corpus = mutants(count, seed)
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(_try, corpus))
    counts = {"passed": 0, "refused": 0, "crashed": 0, "hung": 0}
    for (name, outcome, seconds), (_, content) in zip(outcomes, corpus, strict=True):
        assert seconds < 25, f"{name} took {seconds:.1f} s"
        if outcome == "passed":
            counts["passed"] += 1
            _load_here(name, content)  # edge run loads it in the main process next
        else:
            counts["refused"] += 1
            counts["crashed"] += "crashed" in outcome
            if "crashed" in outcome or "within" in outcome:
                print(f"{name}: {outcome}")
            counts["hung"] += "within" in outcome
    print(f"fuzz corpus of {count}: {counts}")
    return counts


def _load_here(name: str, content: bytes) -> None:
    try:
        backend = LiteRTBackend(content, threads=1, origin=name)
        backend.infer([np.zeros([max(1, d) for d in s.shape], s.dtype) for s in backend.inputs])
    except EdgeError:
        pass  # the probe passed it and the main process refuses it cleanly: fine too


def test_fuzz_corpus_of_200_never_crashes_the_main_process() -> None:
    counts = run_corpus(200, seed=1)
    assert counts["refused"] > 50  # the corpus does hit the parser


@pytest.mark.fuzz
def test_fuzz_corpus_of_1200_never_crashes_the_main_process() -> None:
    counts = run_corpus(1200, seed=2)
    assert counts["refused"] > 300


def test_a_crashing_child_is_reported_as_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child is replaced by one that aborts (SIGABRT), as a heap overflow would."""
    monkeypatch.setattr(model_probe, "_CHILD", "import os; os.abort()")
    with pytest.raises(ModelError, match=r"crashed a test process \(SIGABRT\)") as caught:
        probe_model(b"crash", origin="m.tflite")
    assert caught.value.hint and "do not run it" in caught.value.hint


def test_a_hanging_child_is_killed_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_probe, "_CHILD", "import time; time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(ModelError, match="within 1 s"):
        probe_model(b"hang", origin="m.tflite", timeout=1)
    assert time.monotonic() - started < 5


def test_a_good_model_passes_once_and_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    content = (ZOO / "digits-cnn.int8.tflite").read_bytes()
    model_probe._PROBED.clear()
    children: list[object] = []  # counted, not timed: "remembered" means no second child
    real_run = subprocess.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        children.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)  # the module model_probe calls
    probe_model(content, origin="cnn")
    assert len(children) == 1
    probe_model(content, origin="cnn")
    assert len(children) == 1


def test_not_a_model_is_refused_with_the_reason() -> None:
    with pytest.raises(ModelError, match=r"failed its test run: .*cannot load this model"):
        probe_model(b"TFL3" + bytes(100), origin="junk.tflite")


def _readable_but_unloadable(scratch: Path) -> bytes:
    """The corpus's first file whose metadata still reads (so ``edge`` gets as far as
    the model) and that LiteRT refuses to load (no crash: ``--no-model-probe`` loads it
    in-process). Searched, not indexed: which flip breaks which table moves whenever a
    shipped model is retrained."""
    for name, content in mutants(24, seed=1):
        scratch.write_bytes(content)
        try:
            read_model_file(scratch)
            probe_model(content, origin=name, timeout=20)
        except EdgeError as exc:
            if "cannot load this model" in exc.message and "failed its test run" in exc.message:
                return content
    raise AssertionError("no file of the corpus reads its metadata and fails to load")


def test_edge_run_and_inspect_refuse_a_model_the_probe_rejects(
    tmp_path: Path, run_edge: RunEdge
) -> None:
    (tmp_path / "m.tflite").write_bytes(_readable_but_unloadable(tmp_path / "scan.tflite"))
    for command in (["run", "--model", "m.tflite", "--max-frames", "1"], ["inspect", "m.tflite"]):
        done = run_edge(command)
        assert done.returncode == 78, done.stderr
        assert "test run" in done.stderr or "test process" in done.stderr, done.stderr
    skipped = run_edge(["run", "--model", "m.tflite", "--max-frames", "1", "--no-model-probe"])
    assert skipped.returncode == 78 and "test run" not in skipped.stderr
    assert "cannot load this model" in skipped.stderr  # LiteRT's own check, in-process


def test_sighup_with_a_model_that_crashes_the_runtime_keeps_the_old_one(tmp_path: Path) -> None:
    """A mutant the 1,200 corpus found to SIGSEGV LiteRT on load is copied over the running
    model and SIGHUP sent: the probe's child refuses it, the main process keeps its old
    model. The mutant's corrupt offsets make LiteRT read memory whose contents differ run
    to run: it crashes the child (SIGSEGV) in most runs, and in some its prepare fails
    instead ("Node number 50 (ADD) failed to prepare", seen in a CI run), so either
    refusal of the probe counts. A deterministic crash of the child (SIGABRT) is tested
    above."""
    name, crasher = mutants(235, seed=2)[234]
    assert name == "digits-vit.int8.tflite#234:word"
    model = tmp_path / "model.tflite"
    model.write_bytes((ZOO / "digits-vit.int8.tflite").read_bytes())
    (tmp_path / "edge.toml").write_text(
        f"[model]\npath = '{model}'\n[[sinks]]\nkind = 'jsonl'\npath = 'out.jsonl'\n"
    )
    errors = tmp_path / "stderr.txt"  # a file: the test reads it while edge runs
    with errors.open("w") as stderr_file:
        run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from edge.cli import entry; entry()",
                "run",
                "--config",
                "edge.toml",
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": f"{ZOO.parents[1]}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            },
        )

    def wait_until(done: Callable[[], bool], what: str) -> None:
        wait_for(done, 60, what, process=run, detail=errors.read_text)

    try:
        log = tmp_path / "out.jsonl"
        wait_until(lambda: log.exists() and log.stat().st_size > 0, "a first record")
        model.write_bytes(crasher)
        run.send_signal(signal.SIGHUP)
        # The probe's child crashed and the reload was refused (however long that took),
        # then the old model goes on producing records.
        wait_until(lambda: "reload refused" in errors.read_text(), "the refusal")
        before = len(log.read_text().splitlines())
        wait_until(lambda: len(log.read_text().splitlines()) > before, "a record after the refusal")
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    stderr = errors.read_text()
    assert run.returncode == 0, stderr
    # On failure, the refusal line itself (pytest would cut the whole log in the middle).
    refusals = [line for line in stderr.splitlines() if "reload refused" in line]
    probe_refusals = ("crashed a test process (SIGSEGV)", "the model failed its test run")
    assert refusals and any(r in refusals[0] for r in probe_refusals), refusals or stderr


def test_a_module_planted_in_the_working_folder_cannot_pass_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A downloaded model pack with a numpy.py in it: the probe's child must not import
    it (``python -c`` would put the working folder first on the import path), so garbage
    bytes are still refused."""
    (tmp_path / "numpy.py").write_text("raise SystemExit(0)  # 'the probe passed'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"failed its test run|crashed"):
        probe_model(b"\0\0\0\0TFL3" + b"\xff" * 64, origin="planted.tflite")


def test_a_probe_under_one_runtime_does_not_vouch_for_another() -> None:
    content = (ZOO / "digits-cnn.int8.tflite").read_bytes()
    model_probe._PROBED.clear()
    probe_model(content, origin="cnn", runtime="ai_edge_litert")
    digest = __import__("hashlib").sha256(content).hexdigest()
    assert (digest, "ai_edge_litert") in model_probe._PROBED
    assert (digest, "tensorflow") not in model_probe._PROBED
