#!/usr/bin/env bash
# Build every image docker-compose.airgap.yml names, on a host without registry access: from
# Debian packages (mmdebstrap with the host's own apt sources, then `docker import`) and from a
# wheelhouse of RefNet's locked Python dependencies downloaded on the host.
#
#   scripts/build-airgap-images.sh [--rebuild] [--no-refnet]
#
# What it makes (docs/operations/deployment.md, "Hosts without an image registry"):
#   deploy/wheelhouse/*.whl          requirements.lock's wheels, for the image build's pip (no index)
#   refnet/python:3.11-debian        the base of RefNet's image: Python 3.11, venv, pg_dump 15
#   refnet/debian-services:bookworm  one Debian root with the third-party services' packages
#   refnet/postgres:15-debian ...    stand-ins for the official images, built on that root by
#                                    deploy/airgap/Dockerfile (one target each)
#   refnet:latest                    RefNet's image on the local base (unless --no-refnet)
#
# Base images that exist already are kept (--rebuild makes them again). Needs root, mmdebstrap,
# pip for the host's Python and a Docker engine (DOCKER_HOST; scripts/docker-engine.sh starts a
# private one). Grafana, Loki and Promtail have no Debian package: no stand-in is built for them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${REFNET_DOCKER_CLI:-$(command -v /usr/bin/docker || command -v docker || true)}"
# A Python with pip: the checkout's own environment when there is one.
PYTHON="${PYTHON:-$(command -v "$ROOT/.venv/bin/python" || command -v python3)}"
SUITE="${REFNET_DEBIAN_SUITE:-bookworm}"
# The host's apt sources (deb822 or one-line format), so the images get what the host gets.
APT_SOURCES="${REFNET_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
WHEELHOUSE="$ROOT/deploy/wheelhouse"

PYTHON_BASE=refnet/python:3.11-debian
SERVICES_BASE=refnet/debian-services:$SUITE
# image tag = deploy/airgap/Dockerfile target
STAND_INS=(
    "refnet/postgres:15-debian=postgres"
    "refnet/redis:7-debian=redis"
    "refnet/nginx:1.22-debian=nginx"
    "refnet/prometheus:debian=prometheus"
    "refnet/alertmanager:debian=alertmanager"
    "refnet/node-exporter:debian=node-exporter"
    "refnet/postgres-exporter:debian=postgres-exporter"
    "refnet/redis-exporter:debian=redis-exporter"
    "refnet/nginx-exporter:debian=nginx-exporter"
)
SERVICE_PACKAGES=(
    ca-certificates wget util-linux
    postgresql-15 redis-server nginx
    prometheus prometheus-alertmanager prometheus-node-exporter
    prometheus-postgres-exporter prometheus-redis-exporter prometheus-nginx-exporter
)
# Documentation, manual pages and translations are left out of every image.
DPKG_EXCLUDES=(
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
)

log() { echo "build-airgap-images: $*"; }
die() {
    echo "build-airgap-images: $*" >&2
    exit 1
}

rebuild=0
refnet=1
for argument in "$@"; do
    case "$argument" in
        --rebuild) rebuild=1 ;;
        --no-refnet) refnet=0 ;;
        -h | --help)
            sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $argument (see --help)" ;;
    esac
done

[[ -n "$DOCKER" ]] || die "no docker client (apt-get install docker.io)"
"$DOCKER" version >/dev/null 2>&1 ||
    die "no Docker engine answers at ${DOCKER_HOST:-the default socket} (scripts/docker-engine.sh start, then eval \"\$(scripts/docker-engine.sh env)\")"
command -v mmdebstrap >/dev/null || die "no mmdebstrap (apt-get install mmdebstrap)"
[[ -r "$APT_SOURCES" ]] || die "no apt sources at $APT_SOURCES (set REFNET_APT_SOURCES to a sources file)"

have_image() {
    [[ $rebuild -eq 0 ]] && "$DOCKER" image inspect "$1" >/dev/null 2>&1
}

# A root file system of Debian packages, imported as an image. Extra arguments: docker import
# --change instructions.
debian_image() {
    local tag="$1" packages="$2"
    shift 2
    if have_image "$tag"; then
        log "$tag exists (--rebuild makes it again)"
        return
    fi
    log "$tag: mmdebstrap $SUITE with $packages"
    local changes=() change
    for change in "$@"; do
        changes+=(--change "$change")
    done
    # Through a file: a failed mmdebstrap must not leave an empty image behind.
    local rootfs="$WORK_DIR/rootfs.tar"
    # postgresql-common would create a cluster in the image: the entrypoint makes its own. The
    # hooks' "$1" is the new root, expanded by mmdebstrap.
    # shellcheck disable=SC2016
    mmdebstrap --quiet --variant=minbase --include="$packages" "${DPKG_EXCLUDES[@]}" \
        --customize-hook='rm -rf "$1"/var/lib/postgresql/15/main "$1"/etc/postgresql/15/main' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        "$SUITE" "$rootfs" "$APT_SOURCES"
    "$DOCKER" import "${changes[@]}" "$rootfs" "$tag" >/dev/null
    rm -f "$rootfs"
}

WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT

# Wheels for the image's platform: CPython 3.11 on x86-64 with Debian 12's glibc 2.36. pip takes
# each accepted manylinux tag on its own.
platforms=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for glibc_minor in $(seq 36 -1 5); do
    platforms+=(--platform "manylinux_2_${glibc_minor}_x86_64")
done
log "wheels for requirements.lock into deploy/wheelhouse/"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    "${platforms[@]}" --python-version 3.11 --implementation cp \
    --dest "$WHEELHOUSE" --requirement "$ROOT/requirements.lock" "setuptools>=69" wheel

debian_image "$PYTHON_BASE" "python3.11,python3.11-venv,python3-venv,postgresql-client-15,ca-certificates" \
    'ENV LANG=C.UTF-8' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'CMD ["python3"]'

debian_image "$SERVICES_BASE" "$(
    IFS=,
    echo "${SERVICE_PACKAGES[*]}"
)" \
    'ENV LANG=C.UTF-8' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# The classic builder: it needs no network and no BuildKit frontend image.
export DOCKER_BUILDKIT=0
for entry in "${STAND_INS[@]}"; do
    tag="${entry%%=*}"
    target="${entry#*=}"
    log "$tag (deploy/airgap/Dockerfile, target $target)"
    "$DOCKER" build --quiet --network=none --build-arg "BASE_IMAGE=$SERVICES_BASE" \
        --target "$target" --tag "$tag" "$ROOT/deploy/airgap" >/dev/null
done

if [[ $refnet -eq 1 ]]; then
    tag="${REFNET_IMAGE:-refnet}:${REFNET_TAG:-latest}"
    log "$tag (deploy/Dockerfile on $PYTHON_BASE, wheels from deploy/wheelhouse/)"
    "$DOCKER" build --quiet --network=none --build-arg "BASE_IMAGE=$PYTHON_BASE" \
        --build-arg "REVISION=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --file "$ROOT/deploy/Dockerfile" --tag "$tag" "$ROOT" >/dev/null
fi
log "done: $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep -c '^refnet') refnet images"
log "Grafana, Loki and Promtail have no Debian package: docker-compose.airgap.yml leaves them out" \
    "(metrics and alerts work; dashboards and the log pipeline need the registry images)"
