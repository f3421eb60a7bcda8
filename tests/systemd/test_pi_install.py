"""The Raspberry Pi guide's install commands, run as written (docs/raspberry-pi.md).

The package is not on PyPI: the guide builds a wheel from a clone with
``pip wheel . --no-deps -w dist/`` and installs it, with ``numpy<2`` (Pi OS Bookworm's
picamera2 is built against numpy 1.x), into a venv that has no TensorFlow. This test
does the same from a copy of the working tree, in a fresh venv (without
``--system-site-packages``: there is no picamera2 here to share), with the
dependencies from PyPI at the versions of ``requirements/pi.lock`` (numpy 1.26 and
OpenCV 4.11: the lowest the project declares), then runs ``edge`` from outside the
checkout. It takes about
15 s with a warm pip cache; a cold one downloads ~80 MB (numpy, OpenCV, LiteRT).
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, read_jsonl

DEV_LOCK = REPO / "requirements" / "dev.lock"
PI_LOCK = REPO / "requirements" / "pi.lock"


def copy_of_the_tree(target: Path) -> Path:
    """What a clone holds: tracked and new files, without ignored ones (build/, .venv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist)
        shutil.copytree(
            REPO,
            target,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
            ),
        )
        return target
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    clone = copy_of_the_tree(tmp_path / "edge-infer")
    # The build backend from the lock too (setuptools and wheel), not the newest release.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "-w",
            "dist/",
            "-q",
            "--build-constraint",
            str(DEV_LOCK),
        ],
        clone,
        env,
    )
    wheels = list((clone / "dist").glob("edge_infer-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    # The guide's install, with its known-good set as constraints: what pip picked on the
    # day the lock was made, not on the day the test runs.
    run(
        [str(venv / "bin/pip"), "install", "-q", "-c", str(PI_LOCK), "numpy<2", str(wheels[0])],
        tmp_path,
        env,
    )
    python = str(venv / "bin/python")
    probe = run(
        [
            python,
            "-c",
            "import importlib.util, importlib.metadata as m; "
            "print(importlib.util.find_spec('tensorflow'), m.version('numpy'), "
            "m.version('opencv-python-headless'))",
        ],
        tmp_path,
        env,
    ).stdout.split()
    assert probe[0] == "None", "TensorFlow got into the device install"
    # This run is what tests the lowest numpy and OpenCV that pyproject.toml declares.
    pins = runpy.run_path(str(REPO / "scripts" / "lock_check.py"))["read_lock"](PI_LOCK)
    assert probe[1:] == [pins["numpy"], pins["opencv-python-headless"]], probe
    assert probe[1].startswith("1."), probe

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run([str(venv / "bin/edge"), "run", "--max-frames", "5"], elsewhere, env)
    assert "done: 5 frames" in done.stderr
    records = read_jsonl(elsewhere / "detections.jsonl")
    assert len(records) == 5 and records[0]["model"]["name"] == "digits-cnn"
    printed = run([str(venv / "bin/edge"), "service", "print-unit"], elsewhere, env).stdout
    assert f"ExecStart={venv / 'bin/edge'} run --config /etc/edge/edge.toml" in printed
