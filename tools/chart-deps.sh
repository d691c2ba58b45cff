#!/usr/bin/env bash
# `helm dependency build` of every chart under charts/ (or under the directory given), in
# dependency order: a chart's file:// dependencies are built before it, so an umbrella's
# archive of agent-manager already carries agent-manager's own kubiya-common archive.
# The archives land in charts/<chart>/charts/*.tgz, which git ignores; Chart.lock is
# committed (tests/unit/chart/test_chart_structure.py checks it agrees with Chart.yaml).
# Run by make setup/chart-deps, tools/chart-ci.sh, the tracked-copy builds (make build,
# package-chart, images, release) and the test session (tests/conftest.py) when stale.
#
# Cheap when nothing changed: a chart is rebuilt only when the sha256 of its own files and of
# its dependencies' (recursively) differs from the one recorded at its last build
# (<root>/../.build/chart-deps/<chart>.sha256), so a fresh tree is never touched. Runs are
# serialised by a lock next to those records: two at once (xdist workers, make test beside
# make demo) never delete each other's archives.
set -euo pipefail
root=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../charts}" && pwd)
helm=${HELM:-helm}
command -v "$helm" >/dev/null || { echo "chart-deps: helm not found ('$helm'): run make setup, or set HELM" >&2; exit 2; }
state="$(dirname "$root")/.build/chart-deps"
mkdir -p "$state"
exec 9>"$state/.lock"
flock 9

declare -A state_=()   # chart -> building | <sha256 of its sources and its dependencies'>
sources_sha() {        # the chart's own files (not its built charts/), then its dependencies' sums
  local chart=$1; shift
  { (cd "$root/$chart" && find . -type f -not -path './charts/*' -print0 | LC_ALL=C sort -z \
       | xargs -0 sha256sum); printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1
}
file_deps() {          # the file:// repositories of a Chart.yaml, one per line ("", '' or bare)
  sed -n "s|^[ -]*repository: *[\"']\{0,1\}file://\([^\"']*\)[\"']\{0,1\} *\$|\1|p" "$root/$1/Chart.yaml"
}
build() {
  local chart=$1 dep name sums=() sha
  case ${state_[$chart]:-} in
    building) echo "chart-deps: dependency cycle through charts/$chart" >&2; exit 1 ;;
    ?*) return 0 ;;
  esac
  state_[$chart]=building
  while read -r dep; do
    [[ -n $dep ]] || continue
    [[ -f $root/$chart/$dep/Chart.yaml ]] \
      || { echo "chart-deps: charts/$chart depends on file://$dep, which is not a chart directory" >&2; exit 1; }
    name=$(cd "$root/$chart/$dep" && basename "$PWD")
    build "$name"
    sums+=("$name=${state_[$name]}")
  done < <(file_deps "$chart")
  sha=$(sources_sha "$chart" "${sums[@]}")
  state_[$chart]=$sha
  grep -q '^dependencies:' "$root/$chart/Chart.yaml" || return 0
  if [[ -d $root/$chart/charts && $(cat "$state/$chart.sha256" 2>/dev/null) == "$sha" ]]; then
    return 0   # built from exactly these sources already
  fi
  rm -rf "$root/$chart/charts" "$state/$chart.sha256"
  if ! out=$("$helm" dependency build "$root/$chart" --skip-refresh 2>&1); then
    echo "chart-deps: helm dependency build $root/$chart failed (after changing a dependency in" \
      "Chart.yaml: helm dependency update $root/$chart, and commit Chart.lock):" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$sha" >"$state/$chart.sha256"
  echo "chart-deps: built charts/$chart/charts/ ($(cd "$root/$chart/charts" && echo *.tgz))"
}
for c in "$root"/*/Chart.yaml; do build "$(basename "$(dirname "$c")")"; done
