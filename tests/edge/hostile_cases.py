"""The hostile-input corpus: every bad input the project has met, and the answer due.

One row per input: the files it needs, the ``edge run`` arguments, the ``edge
check-config`` arguments (``None`` when the input is a flag that only ``edge run`` has),
the exit code both must give and a fragment of the message (the key or file it names).
``tests/edge/test_hostile_inputs.py`` runs the table; ``python -m tests.edge.hostile_cases``
runs it in subprocesses and prints each row's outcome (how the old outcomes in the
closing note were recorded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

RUN = ["run", "--max-frames", "3"]


@dataclass(frozen=True)
class Case:
    name: str
    config: str | None  # edge.toml's text, or None: no config file
    exit_code: int
    fragment: str
    run: list[str] | None = None  # default: RUN + --config edge.toml
    check: list[str] | None = field(default=None)  # default: check-config edge.toml
    flag_only: bool = False  # the input is a flag: check-config has no counterpart
    setup: Callable[[Path], None] | None = None

    def run_args(self) -> list[str]:
        return self.run if self.run is not None else [*RUN, "--config", "edge.toml"]

    def check_args(self) -> list[str] | None:
        if self.flag_only:
            return None
        return self.check if self.check is not None else ["check-config", "edge.toml"]


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda folder: os.mkfifo(folder / name)


def _folder(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def _model_with_manifest(text: bytes) -> Callable[[Path], None]:
    """The shipped CNN with its ``edge.manifest`` replaced by ``text``."""

    def make(folder: Path) -> None:
        from converter.manifest import embed_metadata
        from edge.model.zoo import zoo_file

        content = zoo_file("digits-cnn.int8.tflite").read_bytes()
        (folder / "m.tflite").write_bytes(embed_metadata(content, "edge.manifest", text))

    return make


def _nan_scale_manifest() -> bytes:
    from edge.model.file import read_model_file
    from edge.model.zoo import zoo_file

    raw = read_model_file(zoo_file("digits-cnn.int8.tflite")).metadata["edge.manifest"]
    data = json.loads(raw)
    data["input"]["scale"] = float("nan")
    return json.dumps(data).encode()  # json writes NaN, and reads it back by default


def _deep_manifest() -> bytes:
    return b'{"schema": "edge.manifest/1", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


MODEL_M = "[model]\npath = 'm.tflite'\n"
MQTT = "[[sinks]]\nkind = 'mqtt'\nusername = 'u'\n"

CASES: list[Case] = [
    Case(
        "seed-negative",
        "[source]\nkind = 'synthetic'\nseed = -1\n",
        78,
        "source.seed: Input should be greater than or equal to 0 "
        "(allowed: 0 <= seed <= 4294967295)",
    ),
    Case(
        "open-timeout-inf",
        "[source]\nkind = 'video'\nuri = 'rtsp://cam/s'\nopen_timeout = inf\n",
        78,
        "open_timeout",
    ),
    Case(
        "open-timeout-1e308",
        "[source]\nkind = 'video'\nuri = 'rtsp://cam/s'\nopen_timeout = 1e308\n",
        78,
        "open_timeout",
    ),
    Case("close-timeout-inf", MQTT + "close_timeout = inf\n", 78, "close_timeout"),
    Case("close-timeout-1e308", MQTT + "close_timeout = 1e308\n", 78, "close_timeout"),
    Case("toml-array-5000-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n", 78, "nested"),
    Case("toml-inline-table-3000-deep", "x = " + "{a = " * 3000 + "1" + "}" * 3000, 78, "nested"),
    Case("toml-dotted-key-3000-deep", "a" + ".a" * 3000 + " = 1\n", 78, "nested"),
    Case(
        "manifest-10000-deep",
        MODEL_M,
        78,
        "nested",
        setup=_model_with_manifest(_deep_manifest()),
    ),
    Case(
        "inspect-manifest-10000-deep",
        None,
        78,
        "nested",
        run=["inspect", "m.tflite"],
        check=["inspect", "m.tflite", "--json"],
        setup=_model_with_manifest(_deep_manifest()),
    ),
    Case(
        "manifest-scale-nan",
        MODEL_M,
        78,
        "input.scale",
        setup=_model_with_manifest(_nan_scale_manifest()),
    ),
    Case(
        "sink-ipv6-unclosed", None, 2, "--sink", run=[*RUN, "--sink", "mqtt://[::1"], flag_only=True
    ),
    Case("password-file-dev-zero", MQTT + "password_file = '/dev/zero'\n", 78, "'/dev/zero'"),
    Case("password-file-fifo", MQTT + "password_file = 'pw'\n", 78, "FIFO", setup=_fifo("pw")),
    Case(
        "inspect-dev-zero",
        None,
        78,
        "'/dev/zero'",
        run=["inspect", "/dev/zero"],
        check=["inspect", "/dev/zero", "--json"],
    ),
    Case("model-path-fifo", MODEL_M, 78, "FIFO", setup=_fifo("m.tflite")),
    Case("labels-dev-zero", "[model]\nlabels = '/dev/zero'\n", 78, "'/dev/zero'"),
    Case(
        "config-is-a-fifo",
        None,
        78,
        "FIFO",
        run=[*RUN, "--config", "c.toml"],
        check=["check-config", "c.toml"],
        setup=_fifo("c.toml"),
    ),
    Case(
        "config-is-dev-zero",
        None,
        78,
        "'/dev/zero'",
        run=[*RUN, "--config", "/dev/zero"],
        check=["check-config", "/dev/zero"],
    ),
    Case(
        "record-fps-inf",
        "[output]\nrecord = 'r.avi'\nrecord_fps = inf\n",
        78,
        "record_fps: Input should be a finite number (allowed: 0 < record_fps <= 240)",
    ),
    Case("record-fps-1e308", "[output]\nrecord = 'r.avi'\nrecord_fps = 1e308\n", 78, "record_fps"),
    Case("input-scale-nan", "[model.input]\nscale = nan\n", 78, "model.input.scale"),
    Case("input-offset-inf", "[model.input]\noffset = -inf\n", 78, "model.input.offset"),
    Case("source-empty-flag", None, 2, "--source", run=[*RUN, "--source", ""], flag_only=True),
    Case("source-uri-empty", "[source]\nkind = 'video'\nuri = ''\n", 78, "source.uri"),
    Case(
        "source-missing-folder",
        "[source]\nkind = 'video'\nuri = './photos'\n",
        78,
        "photos' does not exist",
        run=[*RUN, "--source", "./photos"],
    ),
    Case(
        "source-dev-null",
        "[source]\nkind = 'video'\nuri = '/dev/null'\n",
        78,
        "character device",
        run=[*RUN, "--source", "/dev/null"],
    ),
    Case("sinks-as-one-table", "[sinks]\nkind = 'jsonl'\n", 78, "[[sinks]] (line 1)"),
    Case(
        "deny-list-100000-numbers",
        "[filters]\ndeny = [" + ", ".join(["1"] * 100_000) + "]\n",
        78,
        "filters.deny: List should have at most 10000 items",
    ),
    Case(
        "deny-list-5000-numbers",
        "[filters]\ndeny = [" + ", ".join(["1"] * 5000) + "]\n",
        78,
        "... and 4990 more errors",
    ),
    Case(
        "jsonl-path-is-a-folder",
        "[[sinks]]\nkind = 'jsonl'\npath = 'logs'\n",
        78,
        "folder",
        setup=_folder("logs"),
    ),
    Case(
        "jsonl-path-dev-null",
        None,
        78,
        "character device",
        run=["run", "--max-frames", "3", "--sink", "jsonl:/dev/null"],
        flag_only=True,
    ),
    Case(
        "jsonl-path-fifo",
        "[[sinks]]\nkind = 'jsonl'\npath = 'd.jsonl'\n",
        78,
        "FIFO",
        setup=_fifo("d.jsonl"),
    ),
    Case(
        "record-path-is-a-folder",
        "[output]\nrecord = 'adir.avi'\n",
        78,
        "output.record",
        setup=_folder("adir.avi"),
    ),
    Case("record-without-video-suffix", "[output]\nrecord = 'rec'\n", 78, "video format"),
    Case(
        "snapshot-dir-is-a-file",
        "[output]\nsnapshot_dir = 'edge.toml'\n",
        78,
        "output.snapshot_dir",
    ),
    Case("status-interval-1e308", "status_interval = 1e308\n", 78, "status_interval"),
    Case("probe-timeout-1e308", "[model]\nprobe_timeout = 1e308\n", 78, "probe_timeout"),
    Case(
        "stall-timeout-inf", "[source]\nkind = 'camera'\nstall_timeout = inf\n", 78, "stall_timeout"
    ),
    Case("heartbeat-nan", "[motion]\nheartbeat = nan\n", 78, "motion.heartbeat"),
    Case(
        "threads-flag-huge", None, 78, "threads", run=[*RUN, "--threads", "1000000"], flag_only=True
    ),
    Case(
        "max-frames-huge",
        "max_frames = 9223372036854775807\n",
        78,
        "max_frames",
        run=["run", "--config", "edge.toml"],
    ),
]


def prepare(case: Case, folder: Path) -> None:
    if case.config is not None:
        (folder / "edge.toml").write_text(case.config, encoding="utf-8")
    if case.setup is not None:
        case.setup(folder)


def main() -> None:
    """Each row in a subprocess (20 s limit): its exit code and the last stderr line."""
    for case in CASES:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            prepare(case, folder)
            outcomes = []
            for args in (case.run_args(), case.check_args()):
                if args is None:
                    outcomes.append("-")
                    continue
                command = [sys.executable, "-c", "from edge.cli import entry; entry()", *args]
                try:
                    done = subprocess.run(
                        command, cwd=folder, capture_output=True, text=True, timeout=20, check=False
                    )
                except subprocess.TimeoutExpired:
                    outcomes.append("hang (killed after 20 s)")
                    continue
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                last = lines[-1][:150] if lines else ""
                size = f" [{len(done.stderr)} bytes of stderr]" if len(done.stderr) > 5000 else ""
                outcomes.append(f"exit {done.returncode}: {last}{size}")
            print(f"| {case.name} | {outcomes[0]} | {outcomes[1]} |", flush=True)


if __name__ == "__main__":
    main()
