#!/usr/bin/env bash
# A self-signed TLS certificate for development and tests: DIR/fullchain.pem and DIR/privkey.pem,
# the paths nginx reads (deploy/nginx: /etc/nginx/tls/). Browsers warn about it; production
# needs a certificate from a CA (docs/operations/nginx.md).
set -euo pipefail

PROGRAM=$(basename "$0")
DAYS=365
FORCE=0

usage() {
    cat <<USAGE
Usage: $PROGRAM [--force] [--days N] DIR [HOSTNAME|IP ...]

Writes a self-signed certificate for development to DIR/fullchain.pem and its key to
DIR/privkey.pem (mode 600), creating DIR if needed. Every HOSTNAME or IP address becomes a
subject alternative name; the first one is also the common name.
Default names: localhost 127.0.0.1.

Options:
  --force     replace an existing certificate or key in DIR
  --days N    validity in days (default $DAYS)
  -h, --help  show this message

Example: $PROGRAM ./tls refnet.example.org localhost 127.0.0.1
USAGE
}

die() {
    echo "$PROGRAM: $*" >&2
    exit 1
}

usage_error() {
    echo "$PROGRAM: $*" >&2
    usage >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1; shift ;;
        --days)
            [ $# -ge 2 ] || usage_error "--days needs a number of days"
            DAYS=$2
            shift 2
            ;;
        --days=*) DAYS=${1#--days=}; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage_error "unknown option: $1" ;;
        *) break ;;
    esac
done

[ $# -ge 1 ] || usage_error "the output directory is missing"
DIR=$1
shift
case "$DAYS" in
    '' | *[!0-9]* | 0) usage_error "--days must be a whole number of days above 0, not '$DAYS'" ;;
esac
if [ $# -eq 0 ]; then
    set -- localhost 127.0.0.1
fi

command -v openssl >/dev/null 2>&1 || die "openssl is not installed (Debian: apt-get install -y openssl)"

SANS=""
for name in "$@"; do
    if [[ "$name" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$name" == *:* ]]; then
        entry="IP:$name"
    elif [[ "$name" =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]]; then
        entry="DNS:$name"
    else
        usage_error "'$name' is neither a host name nor an IP address"
    fi
    SANS="${SANS:+$SANS,}$entry"
done
COMMON_NAME=$1
if [ "${#COMMON_NAME}" -gt 64 ]; then
    COMMON_NAME=${COMMON_NAME:0:64}
fi

CERT="$DIR/fullchain.pem"
KEY="$DIR/privkey.pem"
if [ "$FORCE" -ne 1 ]; then
    for existing in "$CERT" "$KEY"; do
        if [ -e "$existing" ]; then
            die "$existing already exists; pass --force to replace it"
        fi
    done
fi

mkdir -p "$DIR"
# Written next to their final names, then moved into place: a failure leaves nothing half-made,
# and the key is never readable by others, not even for a moment.
umask 077
NEW_KEY=$(mktemp "$DIR/.privkey.XXXXXX")
NEW_CERT=$(mktemp "$DIR/.fullchain.XXXXXX")
trap 'rm -f "$NEW_KEY" "$NEW_CERT"' EXIT

if ! openssl req -x509 -new -nodes \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -sha256 -days "$DAYS" \
    -subj "/O=RefNet development/CN=$COMMON_NAME" \
    -addext "subjectAltName=$SANS" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$NEW_KEY" -out "$NEW_CERT" 2>"$DIR/.openssl-errors"; then
    cat "$DIR/.openssl-errors" >&2
    rm -f "$DIR/.openssl-errors"
    die "openssl could not create the certificate (OpenSSL 1.1.1 or later is needed)"
fi
rm -f "$DIR/.openssl-errors"

chmod 600 "$NEW_KEY"
chmod 644 "$NEW_CERT"
mv -f "$NEW_KEY" "$KEY"
mv -f "$NEW_CERT" "$CERT"
trap - EXIT

echo "Wrote $CERT and $KEY (self-signed, $DAYS days) for: $*"
