#!/usr/bin/env bash
# Stop every process that up.sh started (by recorded PID) and remove the
# cluster state. Safe to run when nothing is running.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

stop_pid() {
  local name=$1 pid=$2 i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  log "killed $name (pid $pid) after 10s"
}

if [[ -d $STATE/pids ]]; then
  # reverse start order: clients first, etcd last
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    [[ -f $STATE/pids/$c ]] && stop_pid "$c" "$(cat "$STATE/pids/$c")"
  done
fi
rm -rf "$STATE"
log "cluster removed ($STATE)"
