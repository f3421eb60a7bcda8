"""A real ``edge run`` with its web server, in a child process, for the HTTP tests.

The child is the command users run (``edge run --config run.toml``), on port 0; the test
learns the port from the ``status page: http://HOST:PORT/`` line it logs. Stopped with
SIGINT, as Ctrl-C does, and its whole stderr kept for the checks that read the log.
Results go to ``out.jsonl`` beside the config unless ``sink=False`` (the config's own).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.edge.waiting import wait_for

REPO = Path(__file__).resolve().parents[3]
DETECTOR = REPO / "models" / "zoo" / "digits-detector.int8.tflite"
URL_LINE = re.compile(r"status page: http://[^:/]+:(\d+)/")

# The shipped detector on the synthetic camera (three digits a frame, the scenes it was
# trained on), paced at 30 fps, results into a file.
DIGITS = 3
DETECTOR_RUN = f"""
status_interval = 0.5
[model]
path = "{DETECTOR}"
[source]
kind = "synthetic"
fps = 30
digits = {DIGITS}
"""


@dataclass
class EdgeHttp:
    process: subprocess.Popen[str]
    stderr: Path
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr.read_text()


@contextmanager
def edge_http(
    tmp_path: Path,
    config: str,
    *,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    verbose: bool = False,
    sink: bool = True,
) -> Iterator[EdgeHttp]:
    (tmp_path / "run.toml").write_text(config)
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from edge.cli import entry; entry()",
                *(["-v"] if verbose else []),
                "run",
                "--config",
                "run.toml",
                *(["--sink", f"jsonl:{tmp_path / 'out.jsonl'}"] if sink else []),
                *args,
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=file,
            text=True,
            env={**os.environ, **(env or {})},
        )
    run = EdgeHttp(process, stderr, 0)
    try:
        found = wait_for(
            lambda: URL_LINE.search(stderr.read_text()),
            60,
            "the status page's URL in the log",
            process=process,
            detail=run.log,
        )
        run.port = int(found.group(1))
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; an HTTP error status is an answer, not a raise."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()
