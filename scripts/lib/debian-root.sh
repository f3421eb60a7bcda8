# shellcheck shell=bash
# What scripts/test-pi.sh and scripts/test-ha.sh do alike: a Debian root built by
# debootstrap and cached, a throw-away overlay on it for each run, stages run under
# `timeout` as `bash "$SELF" --stage NAME`, the whole run under `timeout` in a private
# mount namespace, and an exit trap that stops what the run started and unmounts what it
# mounted. Each script sources this file near its top, resolved from the script's own
# folder (so from any working directory, its stages included); it defines functions and
# STAGE_PID only, and bash reads all of it when it is sourced, before the script's main
# runs.
#
# The sourcing script sets, before it calls any of these:
#   CHECK_NAME         the script's name in its messages (test-pi: FAILED: ...)
#   SELF               the script's absolute path (the stages and the inner run re-run it)
#   CACHE              the cache folder: the roots, the lock, the runs (run.XXXXXX)
#   MIRROR SUITE DEBOOTSTRAP_OPTS ROOT_SETUP_VERSION
#                      debootstrap's arguments, and with them the root's cache key
#                      (root_key)
#   BASE               the cached root: "$CACHE/root-...-$(root_key)"
#   ROOT_MARKER        the file in a complete cached root (.edge-pi-root, .edge-ha-root)
#   ROOT_MINUTES       what debootstrap takes, for its message ("3 to 6")
#   IN_ROOT_ENV        the script's own variables for in_root (an array, may be empty)
#   BUDGET_TOTAL       the whole run's time budget in seconds
# and defines:
#   root_setup ROOT    what the fresh root gets before it is cached (part of the cache
#                      key through ROOT_SETUP_VERSION)
#   stage_NAME         each stage that run_stage NAME runs
#   inner              the run in the namespace: begin_inner, its stages, end_inner
#   cleanup            its exit trap: cleanup_processes, cleanup_mounts, end_cleanup
#   main               stage_or_inner, its own checks, network_check, run_inner, end_main
# The run's state reaches the stages through the environment: RUN (this run's folder
# under the cache) and ROOT (the overlay's mount point).

say() { printf '%s\n' "$*"; }
die() {
    printf '%s: FAILED: %s\n' "$CHECK_NAME" "$*" >&2
    exit 1
}

# The cached root's key: a change of debootstrap's arguments or of root_setup
# (ROOT_SETUP_VERSION) builds a new root.
root_key() {
    printf '%s\n' "$ROOT_SETUP_VERSION" "${DEBOOTSTRAP_OPTS[@]}" "$SUITE" "$MIRROR" |
        sha256sum | cut -c1-12
}

# Run a command in the root, with a clean environment (the host's PIP_* settings and
# paths mean nothing there) and the script's IN_ROOT_ENV.
in_root() {
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 PIP_ROOT_USER_ACTION=ignore \
        "${IN_ROOT_ENV[@]}" "$@"
}

# ---------------------------------------------------------------------------------------
# The stage `root`: the cached root, or debootstrap, root_setup and the marker.

stage_root() {
    if [ -f "$BASE/$ROOT_MARKER" ]; then
        say "root: cached $BASE ($(sed -n 's/^built //p' "$BASE/$ROOT_MARKER"))"
        return
    fi
    if ! command -v debootstrap >/dev/null; then
        say "root: installing debootstrap (Debian package)"
        apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; }
    fi
    local tmp
    tmp=$(mktemp -d "$CACHE/root-building.XXXXXX")
    say "root: debootstrap ${DEBOOTSTRAP_OPTS[*]} $SUITE $MIRROR ($ROOT_MINUTES min)"
    if ! debootstrap "${DEBOOTSTRAP_OPTS[@]}" "$SUITE" "$tmp/root" "$MIRROR" \
        >"$RUN/debootstrap.log" 2>&1; then
        tail -n 30 "$RUN/debootstrap.log"
        grep -h . "$tmp/root/debootstrap/debootstrap.log" 2>/dev/null | tail -n 20
        die "debootstrap"
    fi
    root_setup "$tmp/root"
    printf 'debootstrap %s %s ROOT %s\nbuilt %s\n' "${DEBOOTSTRAP_OPTS[*]}" "$SUITE" "$MIRROR" \
        "$(date -u +%FT%TZ)" >"$tmp/root/$ROOT_MARKER"
    mv -T "$tmp/root" "$BASE" # atomic: the cache holds complete roots only
    rmdir "$tmp"
    say "root: built $BASE ($(du -sh "$BASE" | cut -f1))"
    local other
    for other in "$CACHE"/root-*; do
        if [ "$other" != "$BASE" ] && [ -d "$other" ]; then
            say "root: removing $other (other debootstrap arguments)"
            rm -rf --one-file-system "$other"
        fi
    done
}

# ---------------------------------------------------------------------------------------
# The run inside the private mount namespace (`bash "$SELF" --inner`).

# The start of inner: create the cache, take its lock (one run at a time), set the exit
# trap, remove what a killed run left and make this run's folder RUN.
begin_inner() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/lock"
    flock -n 9 || die "another scripts/$CHECK_NAME.sh is running (lock $CACHE/lock)"
    trap cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    # Left by a run that was killed: nothing is mounted there (the namespace died with it).
    # NAME-building.XXXXXX is a folder being built for the cache (root-building: the root).
    rm -rf --one-file-system "$CACHE"/run.* "$CACHE"/*-building.*
    RUN=$(mktemp -d "$CACHE/run.XXXXXX")
    export RUN
    TIMES=()
    INNER_T0=$(date +%s)
}

end_inner() {
    local took=$(($(date +%s) - INNER_T0))
    say ""
    say "=== times: $(printf '%s; ' "${TIMES[@]}")total $((took / 60)) min $((took % 60)) s"
}

# An overlay on the cached root at $RUN/merged (ROOT), with proc, sys, dev and the host's
# network settings.
mount_root() {
    mkdir -p "$RUN/upper" "$RUN/work" "$RUN/merged"
    mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" \
        "$RUN/merged"
    ROOT="$RUN/merged"
    export ROOT
    mount -t proc proc "$ROOT/proc"
    mount --bind /sys "$ROOT/sys"
    mount --bind /dev "$ROOT/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"
    # The network as the host sees it: DNS, the CA bundle (a proxy's CA included) and pip's
    # system configuration.
    cat /etc/resolv.conf >"$ROOT/etc/resolv.conf.new" && mv -f "$ROOT/etc/resolv.conf.new" \
        "$ROOT/etc/resolv.conf"
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
    [ ! -f /etc/pip.conf ] || cp /etc/pip.conf "$ROOT/etc/pip.conf"
    printf '127.0.1.1\t%s\n' "$(hostname)" >>"$ROOT/etc/hosts"
    say "root: overlay on the cached root at $ROOT (proc, sys, dev mounted)"
}

STAGE_PID=""
run_stage() { # run_stage NAME BUDGET
    local name=$1 budget=$2 t0 rc=0 took
    say ""
    say "=== $name (budget ${budget} s)"
    t0=$(date +%s)
    timeout -k 20 "$budget" bash "$SELF" --stage "$name" &
    STAGE_PID=$!
    wait "$STAGE_PID" || rc=$?
    STAGE_PID=""
    took=$(($(date +%s) - t0))
    TIMES+=("$name $((took / 60)) min $((took % 60)) s")
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        die "stage $name timed out after ${budget} s"
    elif [ "$rc" -ne 0 ]; then
        say "=== times: $(printf '%s; ' "${TIMES[@]}")"
        die "stage $name (exit $rc, after $took s)"
    fi
    say "=== $name: ok, $((took / 60)) min $((took % 60)) s"
}

# The exit trap's parts, in this order in the script's cleanup (which first takes the
# exit status and clears the traps).
cleanup_processes() { # the running stage, and anything still running inside the root
    local p
    if [ -n "$STAGE_PID" ] && kill -0 "$STAGE_PID" 2>/dev/null; then
        kill -TERM -- "-$STAGE_PID" 2>/dev/null || kill -TERM "$STAGE_PID" 2>/dev/null || true
        sleep 2
        kill -KILL -- "-$STAGE_PID" 2>/dev/null || true
    fi
    if [ -n "${ROOT:-}" ]; then
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -KILL "${p#/proc/}" 2>/dev/null
        done
        sleep 0.5
    fi
}

cleanup_mounts() { # unmount everything under the cache, deepest first; sets UNMOUNTED
    local mounts m
    mounts=$(awk -v c="$CACHE/" 'index($5, c) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    UNMOUNTED=0
    for m in $mounts; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
        UNMOUNTED=$((UNMOUNTED + 1))
    done
}

end_cleanup() { # end_cleanup RC COUNT: remove RUN unless anything is still mounted; exit
    local rc=$1 mounts
    say "cleanup: unmounted $2 mounts (exit status $rc)"
    mounts=$(awk -v c="$CACHE/" 'index($5, c) == 1 {print $5}' /proc/self/mountinfo)
    if [ -n "$mounts" ]; then
        printf '%s: still mounted, not removing %s: %s\n' "$CHECK_NAME" "${RUN:-}" "$mounts" >&2
        rc=1
    elif [ -n "${RUN:-}" ]; then
        rm -rf --one-file-system "$RUN"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------------------------------
# The main run, on the host.

# The start of main: `--stage NAME` and `--inner` run here and exit; with no argument it
# returns (main then prints its usage line for any other argument).
stage_or_inner() {
    case "${1:-}" in
    --stage)
        set -euo pipefail
        "stage_$2"
        exit 0
        ;;
    --inner)
        inner
        exit 0
        ;;
    esac
}

# network_check PROJECT WHAT: one line and exit 0 when the Debian mirror or the package
# index (its page of PROJECT) does not answer; WHAT is the check in that line.
network_check() {
    local project=$1 what=$2 index why=""
    index=$(python3 -c '
import configparser
c = configparser.ConfigParser()
c.read("/etc/pip.conf")
for s in ("install", "global"):
    if c.has_option(s, "index-url"):
        print(c.get(s, "index-url")); break
else:
    print("https://pypi.org/simple")' 2>/dev/null || echo https://pypi.org/simple)
    index=${index%/}
    local err
    err=$(curl -fsS -o /dev/null --max-time 20 "$MIRROR/dists/$SUITE/InRelease" 2>&1) ||
        why="the Debian mirror $MIRROR does not answer (${err:0:200})"
    if [ -z "$why" ]; then
        err=$(curl -fsS -o /dev/null --max-time 20 "$index/$project/" 2>&1) ||
            why="the package index $index does not answer (${err:0:200})"
    fi
    if [ -n "$why" ]; then
        say "$CHECK_NAME: $what did not run: $why"
        exit 0
    fi
    say "network: $MIRROR and $index answer"
}

# The inner run (`bash "$SELF" --inner`) in a private mount namespace under the total
# budget; sets start (its start time) and rc (its exit status) for end_main.
run_inner() {
    start=$(date +%s)
    rc=0
    # In the background so that a TERM or Ctrl-C here reaches the run (timeout makes its
    # own process group) and its exit trap unmounts before this returns.
    timeout -k 30 "$BUDGET_TOTAL" unshare --mount --propagation private bash "$SELF" --inner &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
    wait "$child" || rc=$?
    while kill -0 "$child" 2>/dev/null; do
        rc=0
        wait "$child" || rc=$?
    done
    trap - TERM INT HUP
}

# The verdict: no mount may be left under the cache; one line, ok or FAILED; exit rc.
end_main() {
    local left took
    left=$(grep -c "$CACHE" /proc/self/mountinfo || true)
    [ "$left" -eq 0 ] || { say "$CHECK_NAME: FAILED: $left mounts left under $CACHE"; rc=1; }
    [ "$rc" -ne 124 ] || say "$CHECK_NAME: FAILED: over the total budget of $BUDGET_TOTAL s"
    took=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        say "$CHECK_NAME: ok ($((took / 60)) min $((took % 60)) s)"
    else
        say "$CHECK_NAME: FAILED (exit $rc, $((took / 60)) min $((took % 60)) s)"
    fi
    exit "$rc"
}
