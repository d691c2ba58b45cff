#!/usr/bin/env bash
# Stop the local OCI registry by its recorded PID (SIGTERM, 10 s, then SIGKILL).
#
#   tests/registry/down.sh [--purge]    --purge also deletes $KUBIYA_REGISTRY_DIR
#                                       (stored charts, CA, credentials, signing key)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

stop_pid registry "$(pid_of || true)"
rm -f "$STATE/registry.pid"
if [[ ${1:-} == --purge ]]; then
  rm -rf "$STATE"
  log "removed $STATE"
fi
