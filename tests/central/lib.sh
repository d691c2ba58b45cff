# shellcheck shell=bash
# Shared settings of the local central side (sourced by up.sh / down.sh).
# shellcheck disable=SC2034  # variables are used by the scripts that source this

here=${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
repo=${repo:-$(cd "$here/../.." && pwd)}
STATE=${KUBIYA_CENTRAL_DIR:-$repo/.central}
PROMETHEUS_PORT=${KUBIYA_CENTRAL_PROMETHEUS_PORT:-39090}
TOKEN_PORT=${KUBIYA_CENTRAL_TOKEN_PORT:-39091}
FRONT_PORT=${KUBIYA_CENTRAL_FRONT_PORT:-39092}
TOKEN_TTL=${KUBIYA_CENTRAL_TOKEN_TTL:-300}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-$(command -v prometheus || true)}
PY=${KUBIYA_CENTRAL_PYTHON:-$repo/.venv/bin/python}
[[ -x $PY ]] || PY=$(command -v python3)
export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
export KUBIYA_CENTRAL_PROMETHEUS_PORT=$PROMETHEUS_PORT KUBIYA_CENTRAL_TOKEN_PORT=$TOKEN_PORT \
  KUBIYA_CENTRAL_FRONT_PORT=$FRONT_PORT

# Start order matters: the front needs the token endpoint's issuer, both need Prometheus up.
COMPONENTS=(prometheus tokend authfront)

log() { printf '[central] %s\n' "$*" >&2; }

# pid_alive, stop_pid
# shellcheck source=../proclib.sh
. "$here/../proclib.sh"

pid_of() { [[ -f $STATE/pids/$1 ]] && cat "$STATE/pids/$1"; }

health_url() {
  case $1 in
    prometheus) echo "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    tokend) echo "http://127.0.0.1:$TOKEN_PORT/-/healthy" ;;
    authfront) echo "http://127.0.0.1:$FRONT_PORT/-/healthy" ;;
  esac
}

healthy() { "$PY" -m central.httpbase "$(health_url "$1")"; }
