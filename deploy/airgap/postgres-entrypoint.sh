#!/bin/sh
# The official postgres image's contract, on Debian's PostgreSQL 15: as root, prepare PGDATA and
# the socket directory and run as postgres; on an empty PGDATA, create the cluster with
# POSTGRES_USER and the password from POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, create
# POSTGRES_DB and run /docker-entrypoint-initdb.d/*.sql|*.sh, listening on no address meanwhile;
# then exec the command (`postgres -c ...`).
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

say() { echo "postgres entrypoint: $*" >&2; }

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 2777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    POSTGRES_USER="${POSTGRES_USER:-postgres}"
    POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        if [ ! -r "$POSTGRES_PASSWORD_FILE" ]; then
            say "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE cannot be read"
            exit 1
        fi
        POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
    fi
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        say "the database is not initialised and no superuser password is set:" \
            "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE"
        exit 1
    fi
    say "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
    initdb --username="$POSTGRES_USER" --pwfile="$password_file" --auth-local=trust \
        --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$password_file"
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    if [ "$POSTGRES_DB" != postgres ]; then
        # From standard input: psql substitutes variables there, not in --command.
        echo 'CREATE DATABASE :"db";' |
            psql --quiet --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
                --set=db="$POSTGRES_DB"
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) psql --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" -f "$script" ;;
            *.sh)
                # shellcheck disable=SC1090 # the operator's own initialisation scripts
                . "$script"
                ;;
            *) ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    say "ready for start up"
fi

exec "$@"
