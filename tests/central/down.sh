#!/usr/bin/env bash
# Stop the local central side (or only the named components).
#
#   tests/central/down.sh [--purge] [COMPONENT...]
#
# Sends SIGTERM to each recorded PID, waits up to 10 s, then SIGKILL. Safe to
# run when nothing is running. --purge also deletes $KUBIYA_CENTRAL_DIR
# (stored samples, logs, keys and generated credentials).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

purge=0
wanted=()
for arg in "$@"; do
  case $arg in
    --purge) purge=1 ;;
    *) wanted+=("$arg") ;;
  esac
done
((${#wanted[@]})) || wanted=("${COMPONENTS[@]}")

stop() {
  stop_pid "$1" "$(pid_of "$1" || true)"
  rm -f "$STATE/pids/$1"
}

# reverse start order
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  name=${COMPONENTS[i]}
  [[ " ${wanted[*]} " == *" $name "* ]] && stop "$name"
done
if ((purge)); then
  rm -rf "$STATE"
  log "purged $STATE"
fi
