# shellcheck shell=bash
# Shared settings of the local OCI registry (sourced by up.sh / down.sh / signing-key.sh).
# shellcheck disable=SC2034  # variables are used by the scripts that source this

here=${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
repo=${repo:-$(cd "$here/../.." && pwd)}
STATE=${KUBIYA_REGISTRY_DIR:-$repo/.registry}
PORT=${KUBIYA_REGISTRY_PORT:-39500}
HOSTPORT=127.0.0.1:$PORT
REGISTRY_BIN=${REGISTRY_BIN:-$(command -v docker-registry || true)}
HTPASSWD_BIN=${HTPASSWD_BIN:-$(command -v htpasswd || true)}
REGISTRY_USER=${KUBIYA_REGISTRY_USER:-kubiya-release}

log() { printf '[registry] %s\n' "$*" >&2; }

# pid_alive, stop_pid
# shellcheck source=../proclib.sh
. "$here/../proclib.sh"

pid_of() { [[ -f $STATE/registry.pid ]] && cat "$STATE/registry.pid"; }

# healthy = the TLS handshake verifies against our CA and /v2/ asks for credentials (401)
healthy() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$STATE/tls/ca.crt" \
    "https://$HOSTPORT/v2/" 2>/dev/null || true)
  [[ $code == 401 ]]
}
