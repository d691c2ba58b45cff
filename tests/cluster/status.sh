#!/usr/bin/env bash
# Show each control plane process (alive or dead) and the nodes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
rc=0
for c in "${COMPONENTS[@]}"; do
  pid=$(cat "$STATE/pids/$c" 2>/dev/null || true)
  if pid_alive "$pid"; then state=running; else state=DOWN; rc=1; fi
  printf '%-24s %-8s pid=%s log=%s\n' "$c" "$state" "${pid:--}" "$STATE/logs/$c.log"
done
"$KUBECTL" --kubeconfig="$KUBECONFIG_PATH" --request-timeout=5s get nodes -L kubernetes.io/arch || rc=1
exit $rc
