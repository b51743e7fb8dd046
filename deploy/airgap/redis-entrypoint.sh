#!/bin/sh
# The official redis image's contract, on Debian's Redis 7: `docker-entrypoint.sh redis-server
# ARGS` (or ARGS alone) runs Redis as user redis with its data in the working directory (/data).
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

exec "$@"
