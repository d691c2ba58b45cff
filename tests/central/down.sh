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
  local name=$1 pid i
  pid=$(pid_of "$name" || true)
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$STATE/pids/$name"
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
