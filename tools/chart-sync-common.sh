#!/usr/bin/env bash
# Copy the kubiya-common library chart into each subchart's charts/ directory.
# Copies (not symlinks): helm warns on every command about symlinks, and packaged
# charts must be self-contained. tests/unit/chart/test_chart_structure.py fails when a copy
# differs from charts/kubiya-runner/charts/kubiya-common.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)/charts/kubiya-runner/charts"
for sub in agent-manager tool-manager kubiya-operator; do
  dest="$root/$sub/charts/kubiya-common"
  rm -rf "$dest"
  mkdir -p "$root/$sub/charts"
  cp -R "$root/kubiya-common" "$dest"
done
echo "kubiya-common copied into: agent-manager tool-manager kubiya-operator"
