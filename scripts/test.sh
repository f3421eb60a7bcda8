#!/usr/bin/env bash
# Set up the development environment in ./.venv and run the whole test suite.
# This is the README's test command and exactly what CI runs (.ci/run).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the training check.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use as real peers: mosquitto (the MQTT broker and an independent
# subscriber), Xvfb and libXtst (a display and key presses for the preview window),
# systemd-analyze (verify and score the unit). Installed from Debian when missing.
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
ldconfig -p 2>/dev/null | grep -q libXtst.so.6 || need+=(libxtst6)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "installing ${need[*]} (Debian packages the tests need)"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${need[@]}" >/dev/null
    else
        echo "warning: ${need[*]} missing and no apt-get; tests that need them are skipped" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# A GUI build of OpenCV for the preview tests, in its own folder so the headless build
# stays the default (both wheels provide the cv2 module); the tests put it first on
# PYTHONPATH in a subprocess under Xvfb.
headless=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("opencv-python-headless"))')
gui="$PWD/.venv/opencv-gui"
if [ ! -d "$gui/opencv_python-$headless.dist-info" ]; then
    rm -rf "$gui"
    .venv/bin/python -m pip install --quiet --no-deps --target "$gui" "opencv-python==$headless" \
        || echo "warning: no opencv-python $headless wheel; the preview tests are skipped" >&2
fi
export EDGE_TEST_OPENCV_GUI="$gui"
exec .venv/bin/python -m pytest "$@"
