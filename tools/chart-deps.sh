#!/usr/bin/env bash
# `helm dependency build` of every chart under charts/ (or under the directory given), in
# dependency order: a chart's file:// dependencies are built before it, so an umbrella's
# archive of agent-manager already carries agent-manager's own kubiya-common archive.
# The archives land in charts/<chart>/charts/*.tgz, which git ignores; Chart.lock is
# committed (tests/unit/chart/test_chart_structure.py checks it agrees with Chart.yaml).
# Run by make setup, tools/chart-ci.sh and the tracked-copy build (make build/release).
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/charts}
helm=${HELM:-helm}
declare -A done_=()
build() {
  local chart=$1 dep
  [[ -n ${done_[$chart]:-} ]] && return 0
  done_[$chart]=1
  # file:// dependencies first (their paths are relative to the chart)
  while read -r dep; do
    [[ -n $dep ]] && build "$(cd "$root/$chart/$dep" && basename "$PWD")"
  done < <(sed -n 's|^ *repository: *"\{0,1\}file://\([^"]*\)"\{0,1\} *$|\1|p' "$root/$chart/Chart.yaml")
  if grep -q '^dependencies:' "$root/$chart/Chart.yaml"; then
    rm -rf "$root/$chart/charts"
    if ! out=$("$helm" dependency build "$root/$chart" --skip-refresh 2>&1); then
      echo "chart-deps: helm dependency build $root/$chart failed (after changing a dependency in" \
        "Chart.yaml: helm dependency update $root/$chart, and commit Chart.lock):" >&2
      echo "$out" >&2
      exit 1
    fi
  fi
}
for c in "$root"/*/Chart.yaml; do build "$(basename "$(dirname "$c")")"; done
