"""``edge service install | uninstall``: the real commands, into a staging root.

The staging-root install runs the real ``systemd-sysusers --root`` and
``systemctl --root enable``. Installing into a running system needs systemd as PID 1:
``test_service_in_container.py`` does that in a container whose PID 1 is systemd.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from edge.service import unit
from tests.conftest import RunEdge

SYSTEMD_RUNNING = Path("/run/systemd/system").is_dir()
needs_tools = pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemctl") is None,
    reason="systemd-sysusers/systemctl not installed (apt install systemd)",
)

# `edge service install` refuses an edge command under /tmp or /var/tmp, which the
# unit's PrivateTmp=yes hides from the service ([13]); a checkout cloned there gets that
# refusal here, by design, instead of an install to look at.
VENV_HIDDEN = any(
    top in Path(sys.executable).absolute().parents for top in unit.HIDDEN_BY_PRIVATE_TMP
)
needs_visible_venv = pytest.mark.skipif(
    VENV_HIDDEN,
    reason=f"this checkout's venv ({sys.prefix}) is under /tmp or /var/tmp, which "
    "edge service install refuses by design (PrivateTmp=yes); clone outside them to run it",
)


def tree(root: Path) -> dict[str, str]:
    """Every path under root -> its kind, mode and owner (or a link's target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        key = "/" + str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"link -> {os.readlink(path)}"
        else:
            kind = "dir" if path.is_dir() else "file"
            found[key] = f"{kind} {stat.S_IMODE(info.st_mode):o} {info.st_uid}:{info.st_gid}"
    return found


@needs_visible_venv
def test_dry_run_lists_the_exact_steps(run_edge: RunEdge, tmp_path: Path) -> None:
    done = run_edge(["service", "install", "--dry-run"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[1/7] write /etc/sysusers.d/edge.conf (user edge, in group video)",
        "[2/7] systemd-sysusers /etc/sysusers.d/edge.conf",
        "[3/7] create /etc/edge (root, 0755), /var/lib/edge and /var/log/edge (edge, 0750)",
        "[4/7] write /etc/edge/edge.toml from the template if absent",
        "[5/7] write /etc/systemd/system/edge.service",
        "[6/7] systemctl daemon-reload",
        "[7/7] systemctl enable --now edge.service",
        "dry run: nothing was changed",
    ]
    staged = run_edge(["service", "install", "--dry-run", "--root", str(tmp_path / "image")])
    assert staged.returncode == 0
    assert f"systemctl --root {tmp_path / 'image'} enable edge.service" in staged.stdout
    assert not (tmp_path / "image").exists()  # nothing written


@needs_visible_venv
@needs_tools
def test_install_into_a_staging_root(run_edge: RunEdge, tmp_path: Path) -> None:
    root = tmp_path / "image"
    done = run_edge(["service", "install", "--root", str(root)])
    assert done.returncode == 0, done.stderr + done.stdout
    assert (
        "[6/7] systemctl daemon-reload\n      skipped: a staging root has no running "
        "systemd" in done.stdout
    )

    passwd = (root / "etc/passwd").read_text().splitlines()
    edge_user = next(line.split(":") for line in passwd if line.startswith("edge:"))
    uid, gid = int(edge_user[2]), int(edge_user[3])
    assert edge_user[5:] == ["/var/lib/edge", "/usr/sbin/nologin"]
    video = next(
        line.split(":")
        for line in (root / "etc/group").read_text().splitlines()
        if line.startswith("video:")
    )
    assert "edge" in video[3].split(",")
    owner = f"{uid}:{gid}" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    me = f"{os.getuid()}:{os.getgid()}"
    files = tree(root)
    expected = {
        "/etc": f"dir 755 {me}",
        "/etc/sysusers.d": f"dir 755 {me}",
        "/etc/sysusers.d/edge.conf": f"file 644 {me}",
        "/etc/edge": f"dir 755 {me}",
        "/etc/edge/edge.toml": f"file 644 {me}",
        "/etc/systemd": f"dir 755 {me}",
        "/etc/systemd/system": f"dir 755 {me}",
        "/etc/systemd/system/edge.service": f"file 644 {me}",
        "/etc/systemd/system/multi-user.target.wants": f"dir 755 {me}",
        "/etc/systemd/system/multi-user.target.wants/edge.service": (
            "link -> /etc/systemd/system/edge.service"
        ),
        "/var": f"dir 755 {me}",
        "/var/lib": f"dir 755 {me}",
        "/var/lib/edge": f"dir 750 {owner}",
        "/var/log": f"dir 755 {me}",
        "/var/log/edge": f"dir 750 {owner}",
    }
    # systemd-sysusers' own files: the account databases and its lock file.
    account_files = {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/.pwd.lock"}
    assert set(files) == set(expected) | account_files
    for path, described in expected.items():
        assert files[path] == described, path
    assert (root / "etc/sysusers.d/edge.conf").read_text() == unit.sysusers_conf()
    assert (root / "etc/edge/edge.toml").read_text() == unit.config_template()
    printed = run_edge(["service", "print-unit"]).stdout
    assert (root / "etc/systemd/system/edge.service").read_text() == printed

    # Idempotent: a second run changes nothing and keeps an edited config.
    (root / "etc/edge/edge.toml").write_text("# my edits\n")
    before = tree(root)
    again = run_edge(["service", "install", "--root", str(root)])
    assert again.returncode == 0, again.stderr
    assert "kept: it exists" in again.stdout and "unchanged" in again.stdout
    assert tree(root) == before
    assert (root / "etc/edge/edge.toml").read_text() == "# my edits\n"

    removed = run_edge(["service", "uninstall", "--root", str(root)])
    assert removed.returncode == 0, removed.stderr
    left = tree(root)
    assert "/etc/systemd/system/edge.service" not in left
    assert "/etc/systemd/system/multi-user.target.wants/edge.service" not in left
    assert "/etc/sysusers.d/edge.conf" not in left
    assert {"/var/lib/edge", "/var/log/edge", "/etc/edge/edge.toml"} <= set(left)  # data kept
    purged = run_edge(["service", "uninstall", "--root", str(root), "--purge"])
    assert purged.returncode == 0, purged.stderr
    assert not {"/var/lib/edge", "/var/log/edge", "/etc/edge"} & set(tree(root))
    assert "skipped: not installed" in purged.stdout


@needs_visible_venv
@pytest.mark.skipif(SYSTEMD_RUNNING, reason="systemd is PID 1 here: install would really run")
def test_install_without_systemd_says_to_use_a_staging_root(run_edge: RunEdge) -> None:
    done = run_edge(["service", "install"])
    assert done.returncode in (1, 2)
    if os.geteuid() == 0:
        assert done.returncode == 1
        assert "PID 1 is not systemd" in done.stderr and "--root DIR" in done.stderr
    else:
        assert done.returncode == 2 and "it needs root" in done.stderr
    assert not Path("/etc/systemd/system/edge.service").exists()


@needs_visible_venv
def test_install_as_a_normal_user_asks_for_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tests run as root here; a non-root euid is faked (the one thing patched)."""
    from edge.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["service", "install"]) == 2
    err = capsys.readouterr().err
    assert "it needs root" in err and "fix: sudo " in err and "service install" in err
    assert main(["service", "uninstall", "--dry-run"]) == 0  # a dry run needs no root
