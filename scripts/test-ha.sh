#!/usr/bin/env bash
# A real Home Assistant against our MQTT discovery, and what it made of it:
#
#   sudo bash scripts/test-ha.sh
#
# 1. root: a Debian trixie root (Python 3.13.5; HA 2026.2 needs >= 3.13, the host has
#    3.11) by debootstrap, cached;
# 2. venv: Home Assistant 2026.2.3 in /opt/ha of that root, installed with
#    `pip install --no-deps -r requirements/ha.lock` (exact pins, also of what HA would
#    pip-install at its first start), cached by the lock's hash and mounted read-only;
# 3. run: a mosquitto broker on a free loopback port (the host's Debian binary), HA's
#    config folder written before its first start (MQTT config entry, recorder with
#    commit_interval 1, an owner with a long-lived token: scripts/ha_check/haconfig.py),
#    `hass` started in the root (it shares the host network), and once HA's MQTT client
#    is connected two devices at once from the host's .venv: the shipped detector
#    (hatest-det) and anomaly model (hatest-anom) on the synthetic camera, with
#    expire_after 10 s and stats_interval 5 s. After 30 s the detector is paused through
#    <prefix>/set for 3 x expire_after, resumed, run 15 s more; meanwhile mosquitto_sub
#    takes one message of edge/hatest-det/snapshot and the run fetches HA's
#    /api/image_proxy of the detector's image entity with the token. Then both devices
#    and HA get SIGTERM (HA writes its registries at stop);
# 4. check: scripts/ha_check/check.py reads .storage/core.device_registry,
#    core.entity_registry, the states of home-assistant_v2.db and HA's log against the
#    table in scripts/ha_check/expected.py, and prints what HA found.
#
# Needs: root, debootstrap, mosquitto and mosquitto-clients on the host, the .venv that
# bash scripts/test.sh builds (the devices run from it), the Debian mirror and the package
# index. When either does not answer, it prints one line and exits 0 (the check did not
# run); any failure after that check fails the script. The root is cached in
# $EDGE_HA_CACHE (default /var/cache/edge-infer-ha) keyed by the debootstrap arguments and
# ROOT_SETUP_VERSION, the HA venv by the lock's hash; every run works in a throw-away
# overlay on top of the root, in a private mount namespace, and an exit trap kills what
# it started and unmounts what it mounted. A failed run's logs and HA config folder are
# kept in $EDGE_HA_CACHE/last-failed. tests/scripts/test_ha_check.py tests the checks.
# What this script and scripts/test-pi.sh do alike (the cached debootstrap root, the
# overlay, the stages under `timeout`, the namespace, the lock and the exit trap's
# unmounting) is in scripts/lib/debian-root.sh, which it sources from its own folder; the
# HA venv, the broker, the devices, HA itself and the checks are here.
#
# The lock: regenerate it in a fresh root (`python3 -m venv /opt/ha; /opt/ha/bin/pip
# install homeassistant==X paho-mqtt==Y`), start hass once with this check's config,
# pip-install what its log says "Unable to install package ..." about (HA installs with
# uv, which does not reach the index from the root, so it fails and says so), repeat
# until it says nothing, then `pip freeze` into requirements/ha.lock below its comment.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$REPO/scripts/test-ha.sh"
# shellcheck source-path=SCRIPTDIR source=lib/debian-root.sh
. "$REPO/scripts/lib/debian-root.sh"
CHECK_NAME=test-ha
CACHE=${EDGE_HA_CACHE:-/var/cache/edge-infer-ha}
HOST_PY="$REPO/.venv/bin/python"
EDGE="$REPO/.venv/bin/edge"
LOCK="$REPO/requirements/ha.lock"
MIRROR=http://deb.debian.org/debian
SUITE=trixie
# python3-dev and gcc: lru-dict (an HA dependency) builds from source on 3.13.
PACKAGES=python3,python3-venv,python3-pip,python3-dev,gcc,ca-certificates
DEBOOTSTRAP_OPTS=(--variant=minbase "--include=$PACKAGES")
ROOT_SETUP_VERSION=1 # bump when root_setup below changes: part of the cache key
ROOT_MARKER=.edge-ha-root # in a complete cached root (scripts/lib/debian-root.sh)
ROOT_MINUTES="1 to 3"     # debootstrap's time, for its message
IN_ROOT_ENV=(TZ=UTC PIP_CERT=/etc/ssl/certs/ca-certificates.crt) # in_root adds these
# The devices' timing (s): short, so the run is short.
EXPIRE_AFTER=10
STATS_INTERVAL=5
RUN_BEFORE_PAUSE=30
RUN_AFTER_RESUME=15
# Time budgets in seconds: each stage runs under `timeout`, the whole run too. Measured
# on 2 shared cores (2026-12-07): root 1 min 20-32 s (debootstrap; 0 s cached), venv
# 56-96 s (0 s cached), run 1 min 26-28 s (HA connected 8-9 s after its start), check
# 1-2 s; 4 min 25 s in all cold, 1 min 28-30 s warm.
BUDGET_ROOT=600
BUDGET_VENV=600
BUDGET_RUN=420
BUDGET_CHECK=120
BUDGET_TOTAL=900
HA_CONNECT_WAIT=180 # s for HA to start and connect to the broker

KEY=$(root_key)
BASE="$CACHE/root-$SUITE-$KEY"
VENV_KEY=$( (echo "$KEY"; cat "$LOCK") | sha256sum | cut -c1-12)
VENV="$CACHE/ha-venv-$VENV_KEY"

free_port() {
    "$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------
# Stages: each runs as `bash test-ha.sh --stage NAME` under `timeout`, in the mount
# namespace of the main run; state comes through the environment (RUN, ROOT). The stage
# root (stage_root) is the lib's.

root_setup() { # $1: the fresh root (cached with it; stage_root adds the marker)
    : # nothing beyond debootstrap's --include
}

stage_venv() {
    if [ -f "$VENV/.edge-ha-venv" ]; then
        say "venv: cached $VENV ($(sed -n 's/^built //p' "$VENV/.edge-ha-venv"))"
        return
    fi
    local tmp
    tmp=$(mktemp -d "$CACHE/ha-venv-building.XXXXXX")
    mkdir -p "$ROOT/opt/ha" "$ROOT/root/ha-lock"
    mount --bind "$tmp" "$ROOT/opt/ha"
    cp "$LOCK" "$ROOT/root/ha-lock/ha.lock"
    say "venv: python3 -m venv /opt/ha; pip install --no-deps -r requirements/ha.lock" \
        "($(grep -c '==' "$LOCK") pins; 1 to 3 min)"
    in_root python3 -m venv /opt/ha
    if ! in_root /opt/ha/bin/pip install -q --no-deps -r /root/ha-lock/ha.lock \
        >"$RUN/pip-install.log" 2>&1; then
        tail -n 30 "$RUN/pip-install.log"
        die "pip install --no-deps -r requirements/ha.lock"
    fi
    in_root /opt/ha/bin/pip check | sed 's/^/venv: pip check: /' ||
        die "pip check: the lock is missing a dependency (see above)"
    # Exactly the lock, nothing more (pip freeze omits pip itself).
    diff <(grep -v '^#' "$LOCK" | grep . | tr 'A-Z_' 'a-z-' | sort) \
        <(in_root /opt/ha/bin/pip freeze | tr 'A-Z_' 'a-z-' | sort) ||
        die "the venv is not exactly requirements/ha.lock (diff above: < lock, > venv)"
    say "venv: $(in_root /opt/ha/bin/python -c 'import sys, homeassistant.const as c
print("Home Assistant", c.__version__, "on Python", sys.version.split()[0])')"
    printf 'built %s\n' "$(date -u +%FT%TZ)" >"$tmp/.edge-ha-venv"
    umount "$ROOT/opt/ha"
    mv -T "$tmp" "$VENV"
    say "venv: built $VENV ($(du -sh "$VENV" | cut -f1))"
    local other
    for other in "$CACHE"/ha-venv-*; do
        if [ "$other" != "$VENV" ] && [ -d "$other" ]; then
            say "venv: removing $other (another lock or root)"
            rm -rf --one-file-system "$other"
        fi
    done
}

# The run's own processes, killed by its exit trap if it fails half-way.
RUN_PIDS=()
stop_run_pids() {
    local p
    for p in "${RUN_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${RUN_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

device_config() { # NAME PORT: the device's TOML (its folder: $RUN/dev/NAME)
    cat <<EOF
# scripts/test-ha.sh: $1 against the test broker
status_interval = 10.0

[[sinks]]
kind = "mqtt"
host = "127.0.0.1"
port = $2
expire_after = $EXPIRE_AFTER
stats_interval = $STATS_INTERVAL

[[sinks]]
kind = "jsonl"
path = "$RUN/dev/$1/detections.jsonl"
EOF
    # The detector also counts in a zone and across a line (scripts/ha_check/expected.py:
    # zone_left_{i}, zone_left_total, line_middle_in/out); an anomaly model has no boxes.
    [ "$1" = hatest-det ] || return 0
    cat <<EOF

[[zones]]
name = "left"
points = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
anchor = "center"

[[lines]]
name = "middle"
points = [[0.5, 0], [0.5, 1]]
anchor = "center"
EOF
}

wait_for() { # SECONDS DESCRIPTION COMMAND...: poll once a second
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 1
    done
    die "no $what after $limit s"
}

alive() { # PID NAME LOG
    kill -0 "$1" 2>/dev/null && return 0
    tail -n 30 "$3" >&2
    die "$2 exited early (log above: $3)"
}

stage_run() {
    trap 'stop_run_pids' EXIT
    local out="$RUN/out" cfg="$ROOT/root/ha-config" t0
    mkdir -p "$out" "$RUN/dev/hatest-det" "$RUN/dev/hatest-anom"
    MQTT_PORT=$(free_port)
    HTTP_PORT=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT_PORT" >"$RUN/mosquitto.conf"
    mosquitto -c "$RUN/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
    RUN_PIDS+=($!)
    wait_for 10 "mosquitto on 127.0.0.1:$MQTT_PORT" \
        mosquitto_pub -p "$MQTT_PORT" -t hatest/hello -n 2>/dev/null
    say "run: mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p' | head -n 1) on 127.0.0.1:$MQTT_PORT"

    "$HOST_PY" "$REPO/scripts/ha_check/haconfig.py" "$cfg" --mqtt-port "$MQTT_PORT" \
        --http-port "$HTTP_PORT" --token-out "$RUN/token" | sed 's/^/run: /'
    t0=$(date +%s)
    in_root /opt/ha/bin/hass -c /root/ha-config >"$out/hass.out" 2>&1 &
    local ha=$!
    RUN_PIDS+=("$ha")
    local i
    for ((i = 0; i < HA_CONNECT_WAIT; i++)); do
        grep -qs 'MQTT client initialized, birth message sent' "$cfg/home-assistant.log" && break
        alive "$ha" "hass" "$out/hass.out"
        sleep 1
    done
    [ "$i" -lt "$HA_CONNECT_WAIT" ] ||
        { tail -n 30 "$cfg/home-assistant.log"; die "HA's MQTT client did not connect in $HA_CONNECT_WAIT s"; }
    say "run: Home Assistant started, MQTT connected after $(($(date +%s) - t0)) s (http 127.0.0.1:$HTTP_PORT)"

    # One snapshot, independently of HA.
    timeout 120 mosquitto_sub -p "$MQTT_PORT" -C 1 -N -t edge/hatest-det/snapshot \
        >"$out/snapshot.bin" 2>"$out/snapshot.err" &
    local sub=$!
    RUN_PIDS+=("$sub")
    local det anom name
    for name in hatest-det hatest-anom; do
        device_config "$name" "$MQTT_PORT" >"$RUN/dev/$name/edge.toml"
    done
    (cd "$RUN/dev/hatest-det" && XDG_CACHE_HOME="$RUN/xdg" exec "$EDGE" run \
        --config edge.toml --model "$REPO/models/zoo/digits-detector.int8.tflite" --device hatest-det) \
        >"$out/hatest-det.log" 2>&1 &
    det=$!
    (cd "$RUN/dev/hatest-anom" && XDG_CACHE_HOME="$RUN/xdg" exec "$EDGE" run \
        --config edge.toml --model "$REPO/models/zoo/digits-anomaly.int8.tflite" --device hatest-anom) \
        >"$out/hatest-anom.log" 2>&1 &
    anom=$!
    RUN_PIDS+=("$det" "$anom")
    say "run: edge run --model digits-detector --device hatest-det, and --model" \
        "digits-anomaly --device hatest-anom (expire_after $EXPIRE_AFTER s, stats_interval" \
        "$STATS_INTERVAL s); ${RUN_BEFORE_PAUSE} s"
    sleep "$RUN_BEFORE_PAUSE"
    alive "$det" "edge run (hatest-det)" "$out/hatest-det.log"
    alive "$anom" "edge run (hatest-anom)" "$out/hatest-anom.log"

    local pause=$((3 * EXPIRE_AFTER)) pause_ts resume_ts
    mosquitto_pub -p "$MQTT_PORT" -q 1 -t edge/hatest-det/set -m '{"paused": true}'
    pause_ts=$(date +%s.%N)
    say "run: paused hatest-det (edge/hatest-det/set {\"paused\": true}) for $pause s (3 x expire_after)"
    sleep "$pause"
    resume_ts=$(date +%s.%N)
    mosquitto_pub -p "$MQTT_PORT" -q 1 -t edge/hatest-det/set -m '{"paused": false}'
    say "run: resumed hatest-det; ${RUN_AFTER_RESUME} s"
    sleep "$RUN_AFTER_RESUME"
    alive "$det" "edge run (hatest-det)" "$out/hatest-det.log"
    alive "$anom" "edge run (hatest-anom)" "$out/hatest-anom.log"

    # HA's image proxy for the detector's image entity, with the long-lived token.
    local eid api proxy
    eid=$("$HOST_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))["data"]["entities"]
print(next((e["entity_id"] for e in d if e.get("unique_id") == "hatest-det_snapshot"), ""))' \
        "$cfg/.storage/core.entity_registry" 2>/dev/null || true)
    api=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -H "Authorization: Bearer $(cat "$RUN/token")" "http://127.0.0.1:$HTTP_PORT/api/") || true
    if [ -n "$eid" ]; then
        proxy=$(curl -s -o "$out/proxy.jpg" -w '%{http_code}' --max-time 10 \
            -H "Authorization: Bearer $(cat "$RUN/token")" \
            "http://127.0.0.1:$HTTP_PORT/api/image_proxy/$eid") || true
        echo "token: GET /api/ $api; GET /api/image_proxy/$eid $proxy" >"$out/proxy.status"
    else
        echo "token: GET /api/ $api; no image entity with unique_id hatest-det_snapshot in" \
            "core.entity_registry" >"$out/proxy.status"
    fi
    say "run: $(cat "$out/proxy.status")"

    local rc
    for name in det anom; do
        kill -TERM "${!name}"
    done
    for name in det anom; do
        rc=0
        timeout 30 tail --pid="${!name}" -f /dev/null || die "edge run ($name) did not stop in 30 s"
        wait "${!name}" || rc=$?
        [ "$rc" -eq 0 ] || { tail -n 20 "$out/hatest-$name.log"; die "edge run (hatest-$name) exited $rc after SIGTERM"; }
        say "run: hatest-$name stopped: $(grep -o 'done: .*' "$out/hatest-$name.log" | tail -n 1)"
    done
    kill -TERM "$sub" 2>/dev/null || true
    t0=$(date +%s)
    kill -TERM "$ha"
    timeout 90 tail --pid="$ha" -f /dev/null || die "hass did not stop in 90 s after SIGTERM"
    rc=0
    wait "$ha" || rc=$?
    say "run: Home Assistant stopped in $(($(date +%s) - t0)) s (exit $rc)"
    # HA's SIGTERM handler stops it cleanly and exits with 128 + 15.
    [ "$rc" -eq 143 ] || [ "$rc" -eq 0 ] ||
        { tail -n 20 "$out/hass.out"; die "hass exited $rc after SIGTERM"; }
    printf 'PAUSE_TS=%s\nRESUME_TS=%s\n' "$pause_ts" "$resume_ts" >"$out/times.env"
}

stage_check() {
    local out="$RUN/out" m
    for m in digits-detector digits-anomaly; do
        "$EDGE" inspect --json "$REPO/models/zoo/$m.int8.tflite" >"$out/$m.json" ||
            die "edge inspect --json $m"
    done
    # The synthetic camera's frame rate: the config's default, which the devices use.
    local fps
    fps=$("$HOST_PY" -c 'from edge.config.sources import SyntheticSourceConfig as S; print(S().fps)')
    # shellcheck disable=SC1091
    . "$out/times.env"
    "$HOST_PY" "$REPO/scripts/ha_check/check.py" --config-dir "$ROOT/root/ha-config" \
        --device "hatest-det=detector:$out/digits-detector.json" \
        --device "hatest-anom=anomaly:$out/digits-anomaly.json" \
        --camera-fps "$fps" --pause-ts "$PAUSE_TS" --resume-ts "$RESUME_TS" \
        --paused-device hatest-det --snapshot "$out/snapshot.bin" \
        --proxy "$out/proxy.jpg" --proxy-status "$(cat "$out/proxy.status")"
}

# ---------------------------------------------------------------------------------------
# The main run, inside a private mount namespace.

cleanup() {
    local rc=$?
    trap - EXIT TERM INT
    cleanup_processes
    if [ "$rc" -ne 0 ] && [ -n "${RUN:-}" ] && [ -d "$RUN/out" ]; then
        # Kept for a look: the logs of the failed run.
        rm -rf "$CACHE/last-failed"
        mkdir -p "$CACHE/last-failed"
        cp -a "$RUN/out/." "$CACHE/last-failed/" 2>/dev/null || true
        cp -a "${ROOT:-/nonexistent}/root/ha-config" "$CACHE/last-failed/" 2>/dev/null || true
        say "cleanup: the failed run's logs are in $CACHE/last-failed"
    fi
    cleanup_mounts
    end_cleanup "$rc" "$UNMOUNTED"
}

mount_venv() {
    mkdir -p "$ROOT/opt/ha"
    mount --bind "$VENV" "$ROOT/opt/ha"
    mount -o remount,bind,ro "$ROOT/opt/ha"
    say "venv: $VENV mounted read-only at /opt/ha (HA cannot install anything into it)"
}

inner() {
    begin_inner
    run_stage root "$BUDGET_ROOT"
    mount_root
    run_stage venv "$BUDGET_VENV"
    mount_venv
    run_stage run "$BUDGET_RUN"
    run_stage check "$BUDGET_CHECK"
    end_inner
}

main() {
    stage_or_inner "$@"
    if [ -n "${1:-}" ]; then
        echo "usage: sudo bash scripts/test-ha.sh   (see the comment at the top)" >&2
        exit 2
    fi

    [ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
    [ -x "$HOST_PY" ] && [ -x "$EDGE" ] ||
        die "no $HOST_PY or $EDGE: run bash scripts/test.sh first (it makes .venv)"
    local tool
    for tool in mosquitto mosquitto_pub mosquitto_sub curl; do
        command -v "$tool" >/dev/null ||
            die "no $tool on the host (apt-get install mosquitto mosquitto-clients curl)"
    done
    network_check homeassistant "the Home Assistant check"
    run_inner
    end_main
}

# Everything above is definitions: bash has read the whole file, and at the top all of
# scripts/lib/debian-root.sh, before main runs, so editing either during a run cannot
# change the process that is running (the inner run and each stage read both anew).
main "$@"
exit "$?"
