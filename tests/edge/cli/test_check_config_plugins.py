"""``edge check-config`` imports every plug-in the config uses and says what ``edge run``
would (exit 78, the same message), and checks a ``password_credential`` only where one
can be found: inside the unit or in ``--credentials-dir DIR``.

A missing plug-in is simulated without touching the venv: a folder on ``PYTHONPATH``
holds a package of that name whose import raises ``ImportError`` (or, for one that is not
installed, a stand-in that imports)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config.preflight import MQTT_MISSING, PREVIEW_NO_GUI, opencv_has_gui
from edge.config.secrets import CREDENTIAL_NOTE
from tests.conftest import RunEdge

MQTT = "[[sinks]]\nkind = 'mqtt'\nhost = 'localhost'\n"


def _package(root: Path, name: str, body: str) -> dict[str, str]:
    """``root/name/__init__.py`` with ``body``, first on ``PYTHONPATH``."""
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(body)
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


def test_mqtt_sink_without_paho_fails_as_run_does(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(MQTT)
    assert run_edge(["check-config", "edge.toml"]).returncode == 0  # paho-mqtt installed
    env = _package(tmp_path / "blocked", "paho", "raise ImportError('no paho here')\n")
    checked = run_edge(["check-config", "edge.toml"], env=env)
    ran = run_edge(["run", "--config", "edge.toml", "--max-frames", "1"], env=env)
    for done in (checked, ran):
        assert done.returncode == 78, done.stderr
        assert MQTT_MISSING in done.stderr
        assert "pip install '.[mqtt]'" in done.stderr
        assert "Traceback" not in done.stderr


def test_picamera2_source_needs_picamera2(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("[source]\nkind = 'picamera2'\n")
    blocked = _package(tmp_path / "blocked", "picamera2", "raise ImportError('no libcamera')\n")
    done = run_edge(["check-config", "edge.toml"], env=blocked)
    assert done.returncode == 78, done.stderr
    assert "the picamera2 source needs the picamera2 package" in done.stderr
    assert "python3-picamera2" in done.stderr  # the install hint edge run gives
    # With the package importable, check-config passes (it opens no camera).
    present = _package(tmp_path / "present", "picamera2", "class Picamera2: ...\n")
    done = run_edge(["check-config", "edge.toml"], env=present)
    assert done.returncode == 0, done.stderr
    assert "source picamera2" in done.stdout


def test_preview_needs_a_gui_opencv(run_edge: RunEdge, tmp_path: Path) -> None:
    import cv2

    if opencv_has_gui(cv2.getBuildInformation()):
        pytest.skip("this OpenCV has a GUI; the test needs opencv-python-headless")
    (tmp_path / "edge.toml").write_text("[output]\npreview = true\n")
    done = run_edge(["check-config", "edge.toml"], env={"DISPLAY": ":0"})
    assert done.returncode == 78, done.stderr
    assert PREVIEW_NO_GUI in done.stderr
    assert "pip install opencv-python" in done.stderr
    (tmp_path / "edge.toml").write_text("[output]\npreview = false\n")
    assert run_edge(["check-config", "edge.toml"]).returncode == 0


def test_opencv_build_information_gui_line() -> None:
    assert not opencv_has_gui("  GUI:                           NONE\n    VTK support: NO\n")
    assert opencv_has_gui("  GUI:                           GTK3\n    GTK+: YES (ver 3.24)\n")
    assert opencv_has_gui("something else entirely")


CREDENTIAL = MQTT + "username = 'pi'\npassword_credential = 'mqtt-password'\n"


def test_credential_outside_systemd_is_a_note(
    run_edge: RunEdge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "edge.toml").write_text(CREDENTIAL)
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert f"note: MQTT password credential 'mqtt-password': {CREDENTIAL_NOTE}" in done.stderr
    assert ": ok (" in done.stdout
    # --json keeps stdout JSON: the note goes to stderr.
    done = run_edge(["check-config", "--json", "edge.toml"])
    assert done.returncode == 0 and done.stdout.lstrip().startswith("{")


def test_credentials_dir_checks_the_file(
    run_edge: RunEdge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "edge.toml").write_text(CREDENTIAL)
    creds = tmp_path / "creds"
    creds.mkdir()
    args = ["check-config", "--credentials-dir", "creds", "edge.toml"]
    done = run_edge(args)
    assert done.returncode == 78, done.stderr
    assert "mqtt-password' does not exist" in done.stderr
    (creds / "mqtt-password").write_text("")
    done = run_edge(args)
    assert done.returncode == 78 and "is empty" in done.stderr
    (creds / "mqtt-password").write_text("secret\n")
    done = run_edge(args)
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr and "secret" not in done.stdout + done.stderr
    # Inside the unit ($CREDENTIALS_DIRECTORY set) the credential is checked too.
    done = run_edge(["check-config", "edge.toml"], env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert done.returncode == 0 and "note:" not in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_edge(["check-config", "edge.toml"], env={"CREDENTIALS_DIRECTORY": str(empty)})
    assert done.returncode == 78


def test_credentials_dir_must_be_a_folder(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(CREDENTIAL)
    done = run_edge(["check-config", "--credentials-dir", "nowhere", "edge.toml"])
    assert done.returncode == 2
    assert "--credentials-dir 'nowhere' is not a folder" in done.stderr


def test_help_says_how_credentials_are_checked(run_edge: RunEdge) -> None:
    done = run_edge(["check-config", "--help"])
    assert done.returncode == 0
    assert "--credentials-dir DIR" in done.stdout
    assert "LoadCredential=" in done.stdout
