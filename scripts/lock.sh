#!/usr/bin/env bash
# Refresh the two locks: requirements/dev.lock, the exact versions scripts/test.sh
# installs (pyproject.toml's `dev` extra and requirements/dev.in), and
# requirements/pi.lock, the device install of the Raspberry Pi guide (base and `mqtt`,
# requirements/pi.in). Run it to take newer releases on purpose (after
# `bash scripts/test.sh --latest` has shown they pass), then commit the locks.
#
#   bash scripts/lock.sh                       every package to its newest allowed release
#   bash scripts/lock.sh -P opencv-python-headless   only that one (pip-compile's -P)
#
# pip-tools' pip-compile resolves with pip itself, on this interpreter (CPython 3.11,
# x86_64 Linux, as the gate runs), so the lock is what pip installs here. pip-tools is
# pinned in the lock too; a copy of that version lives in .venv-lock.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements/dev.lock
version=$(sed -n 's/^pip-tools==//p' "$lock" 2>/dev/null || true)
tools=.venv-lock
have=none
if [ -x "$tools/bin/pip-compile" ]; then
    have=$("$tools/bin/python" -c 'import importlib.metadata as m; print(m.version("pip-tools"))')
fi
if [ "$have" != "${version:-none}" ]; then
    rm -rf "$tools"
    python3 -m venv "$tools"
    pip_version=$(sed -n 's/^pip==//p' "$lock" 2>/dev/null || true)
    "$tools/bin/python" -m pip install --quiet "pip${pip_version:+==$pip_version}" \
        "pip-tools${version:+==$version}"
fi
upgrade=(--upgrade)
args=("$@")
[ $# -gt 0 ] && upgrade=()  # with -P NAME, only the named packages move
# --unsafe-package edge-infer: the dev extra names the project itself (edge-infer[train]),
# which must not appear as a path in the lock; pip, setuptools and wheel are pinned.
compile() {
    "$tools/bin/pip-compile" pyproject.toml "$@" \
        --unsafe-package edge-infer --strip-extras --no-emit-index-url --no-emit-find-links \
        --quiet
}
# The development and test environment (what scripts/test.sh installs).
compile requirements/dev.in --extra dev "${upgrade[@]}" "${args[@]}" --output-file "$lock"
# The device install of the Raspberry Pi guide: numpy 1.x, no TensorFlow (the known-good
# set the guide offers, and what tests/systemd/test_pi_install.py installs).
compile requirements/pi.in --extra mqtt "${upgrade[@]}" "${args[@]}" \
    --output-file requirements/pi.lock
echo "requirements/dev.lock and requirements/pi.lock refreshed;" \
    "run bash scripts/test.sh, then commit them"
