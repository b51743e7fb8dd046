#!/usr/bin/env bash
# A private Docker engine for this checkout, for machines without one running (the deployment
# tests use it; docs/operations/deployment.md, "Hosts without an image registry").
#
#   scripts/docker-engine.sh start    start dockerd (Debian's docker.io) unless it answers already
#   scripts/docker-engine.sh stop     stop the dockerd this script started, by its pid
#   scripts/docker-engine.sh status   exit 0 when it answers
#   scripts/docker-engine.sh env      the variables that point the docker CLI and Compose at it
#
# It leaves the host's network alone: no iptables rules, no IP forwarding or masquerading, no
# default bridge. Compose networks still connect the containers and published ports still reach
# them on 127.0.0.1; containers have no route out of the machine. Everything it keeps (images,
# volumes, the socket) is under $REFNET_DOCKER_DIR (default .docker-engine/ in the checkout).
# Needs root, dockerd and containerd (apt-get install docker.io).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_DIR="${REFNET_DOCKER_DIR:-$ROOT/.docker-engine}"
SOCKET="$ENGINE_DIR/docker.sock"
PIDFILE="$ENGINE_DIR/dockerd.pid"
LOG="$ENGINE_DIR/dockerd.log"
# The client of the same release as the engine (another docker on PATH may be newer).
DOCKER="${REFNET_DOCKER_CLI:-$(command -v /usr/bin/docker || command -v docker || true)}"

die() {
    echo "docker-engine.sh: $*" >&2
    exit 1
}

answers() {
    [[ -S "$SOCKET" && -n "$DOCKER" ]] && "$DOCKER" --host "unix://$SOCKET" version >/dev/null 2>&1
}

start() {
    if answers; then
        return 0
    fi
    command -v dockerd >/dev/null || die "no dockerd: apt-get install docker.io"
    [[ -n "$DOCKER" ]] || die "no docker client: apt-get install docker.io"
    [[ $(id -u) -eq 0 ]] || die "dockerd needs root"
    mkdir -p "$ENGINE_DIR/data" "$ENGINE_DIR/exec"
    # A pidfile left by an engine that died would stop the next one from starting.
    if [[ -f "$PIDFILE" ]] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        rm -f "$PIDFILE"
    fi
    dockerd \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
        --data-root "$ENGINE_DIR/data" --exec-root "$ENGINE_DIR/exec" \
        --host "unix://$SOCKET" --pidfile "$PIDFILE" \
        --config-file "$ROOT/deploy/docker/daemon.json" \
        >"$LOG" 2>&1 &
    for _ in $(seq 100); do
        answers && return 0
        kill -0 $! 2>/dev/null || break
        sleep 0.2
    done
    tail -n 20 "$LOG" >&2
    die "dockerd did not start (log: $LOG)"
}

stop() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid
    pid="$(cat "$PIDFILE")"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    env)
        echo "export DOCKER_HOST=unix://$SOCKET"
        ;;
    *)
        sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
