#!/usr/bin/env bash
# Site PKI for Vigil with openssl: a site CA, the gateway's server certificate,
# and one client certificate per device (CN = device id) for mutual TLS.
#
#   scripts/certs.sh site   DIR SITE HOSTNAME [IP ...] -> both of the next two in one step (a new box)
#   scripts/certs.sh ca     DIR SITE                 -> DIR/ca.key, DIR/ca.crt          (keep ca.key offline)
#   scripts/certs.sh server DIR HOSTNAME [IP ...]     -> DIR/server.key, DIR/server.crt
#   scripts/certs.sh device DIR DEVICE_ID             -> DIR/DEVICE_ID.key, DIR/DEVICE_ID.crt
#
# Then (`site` prints it): VIGIL_MQTT_TLS_ENABLED=true VIGIL_MQTT_WSS_ENABLED=true VIGIL_HTTP_TLS=true
#   VIGIL_MQTT_TLS_CERT_FILE=DIR/server.crt VIGIL_MQTT_TLS_KEY_FILE=DIR/server.key VIGIL_MQTT_TLS_CA_FILE=DIR/ca.crt npm start
set -euo pipefail
usage() {
  [ -n "${1:-}" ] && echo "certs: $1" >&2
  cat >&2 <<'EOF'
usage: npm run certs -- <command> DIR ...
  site   DIR SITE HOSTNAME [IP ...]   a site CA and the gateway's server certificate (a new box)
  ca     DIR SITE                     DIR/ca.key, DIR/ca.crt (keep ca.key offline)
  server DIR HOSTNAME [IP ...]        DIR/server.key, DIR/server.crt, signed by DIR/ca.key
  device DIR DEVICE_ID                DIR/DEVICE_ID.key, DIR/DEVICE_ID.crt (client certificate, CN = id)
EOF
  exit 2
}
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
need() { [ -n "${1:-}" ] || usage "$cmd: missing $2"; }
mkdir -p "$dir"
days=${VIGIL_CERT_DAYS:-825}
umask 077

case "$cmd" in
  ca)
    need "${3:-}" "SITE"; site=$3
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/O=Vigil/OU=site $site/CN=Vigil site CA $site" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    echo "$dir/ca.crt"
    ;;
  server)
    need "${3:-}" "HOSTNAME"; host=$3; shift 3
    [ -f "$dir/ca.key" ] || usage "server: no CA in $dir (run: certs ca $dir SITE, or certs site ...)"
    san="DNS:$host,DNS:localhost,IP:127.0.0.1"
    for ip in "$@"; do san="$san,IP:$ip"; done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/O=Vigil/CN=$host" 2>/dev/null
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$days" -sha256 -out "$dir/server.crt" \
      -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san") 2>/dev/null
    rm -f "$dir/server.csr"
    echo "$dir/server.crt"
    ;;
  device)
    need "${3:-}" "DEVICE_ID"; id=$3
    [ -f "$dir/ca.key" ] || usage "device: no CA in $dir"
    [[ "$id" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || { echo "invalid device id: $id" >&2; exit 2; }
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/$id.key" -out "$dir/$id.csr" -subj "/O=Vigil/CN=$id" 2>/dev/null
    openssl x509 -req -in "$dir/$id.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$days" -sha256 -out "$dir/$id.crt" \
      -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n') 2>/dev/null
    rm -f "$dir/$id.csr"
    echo "$dir/$id.crt"
    ;;
  site)
    need "${3:-}" "SITE"; need "${4:-}" "HOSTNAME"; site=$3; host=$4; shift 4
    "$0" ca "$dir" "$site" >/dev/null
    "$0" server "$dir" "$host" "$@" >/dev/null
    d=$(cd "$dir" && pwd)
    echo "site PKI in $d (keep ca.key offline once the devices have their certificates)"
    echo "serve TLS on every interface with:"
    echo "  VIGIL_MQTT_TLS_ENABLED=true VIGIL_MQTT_WSS_ENABLED=true VIGIL_HTTP_TLS=true VIGIL_HTTP_HOST=0.0.0.0 \\"
    echo "  VIGIL_MQTT_TLS_CERT_FILE=$d/server.crt VIGIL_MQTT_TLS_KEY_FILE=$d/server.key VIGIL_MQTT_TLS_CA_FILE=$d/ca.crt npm start"
    ;;
  *) usage "unknown command \"$cmd\"" ;;
esac
