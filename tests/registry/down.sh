#!/usr/bin/env bash
# Stop the local OCI registry by its recorded PID (SIGTERM, 10 s, then SIGKILL).
#
#   tests/registry/down.sh [--purge]    --purge also deletes $KUBIYA_REGISTRY_DIR
#                                       (stored charts, CA, credentials, signing key)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

pid=$(pid_of || true)
if pid_alive "$pid"; then
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "pid $pid ignored SIGTERM for 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "stopped (pid $pid)"
fi
rm -f "$STATE/registry.pid"
if [[ ${1:-} == --purge ]]; then
  rm -rf "$STATE"
  log "removed $STATE"
fi
