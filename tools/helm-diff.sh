#!/usr/bin/env bash
# Build the helm-diff plugin (github.com/databus23/helm-diff/v3) from the Go
# module proxy and install it as a helm plugin, so that kubernetes.core.helm can
# report what an upgrade would change (check mode, --diff) and decide
# idempotence from rendered manifests instead of comparing values only.
#
# Built once per version into ~/.cache/kubiya-runners/helm-plugins/diff-<version>
# and linked into .tools/helm-plugins/diff. Use it with
#   HELM_PLUGINS=$repo/.tools/helm-plugins
# (the runner role, Molecule and the tests set it; `helm plugin list` shows diff).
#
# Usage: tools/helm-diff.sh [--check]   (--check: only report whether it is installed)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# v3.9.14 is the newest helm-diff release the Go module proxy serves here.
HELM_DIFF_VERSION=${HELM_DIFF_VERSION:-v3.9.14}
cache=${KUBIYA_CACHE_DIR:-$HOME/.cache/kubiya-runners}
plugin_dir="$cache/helm-plugins/diff-$HELM_DIFF_VERSION"
link_dir="$repo/.tools/helm-plugins"

installed() { [[ -x $plugin_dir/bin/diff && -f $plugin_dir/plugin.yaml ]]; }

if [[ ${1:-} == --check ]]; then
  installed && { echo "helm-diff $HELM_DIFF_VERSION: $plugin_dir"; exit 0; }
  echo "helm-diff $HELM_DIFF_VERSION is not built (run tools/helm-diff.sh)" >&2
  exit 1
fi

if ! installed; then
  command -v go >/dev/null || { echo "helm-diff.sh: go is needed to build helm-diff" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "building helm-diff $HELM_DIFF_VERSION from the Go module proxy (once)..." >&2
  # `go install module@version` asks the proxy for the version list (deprecation check),
  # which this proxy refuses: download the module and build it in its own source tree
  # instead, with the go.sum it ships. sum.golang.org is not reachable from here either,
  # so the helm-diff module itself is taken from the proxy without the checksum database;
  # its dependencies are still checked against that go.sum.
  export GONOSUMDB=github.com/databus23/helm-diff GOFLAGS=-mod=readonly CGO_ENABLED=0
  src=$(go mod download -json "github.com/databus23/helm-diff/v3@$HELM_DIFF_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || { echo "helm-diff.sh: go mod download gave no source dir" >&2; exit 1; }
  cp -r "$src" "$work/src" && chmod -R u+w "$work/src"
  (cd "$work/src" && go build -trimpath -o "$work/bin/helm-diff" \
    -ldflags "-s -w -X github.com/databus23/helm-diff/v3/cmd.Version=${HELM_DIFF_VERSION#v}" .)
  mkdir -p "$work/plugin/bin"
  install -m 0755 "$work/bin/helm-diff" "$work/plugin/bin/diff"
  # the release plugin.yaml, minus its install hooks (they download a binary from GitHub)
  awk '/^hooks:/{skip=1; next} skip && /^[^ ]/{skip=0} !skip' "$src/plugin.yaml" >"$work/plugin/plugin.yaml"
  sed -i "s/^version: .*/version: \"${HELM_DIFF_VERSION#v}\"/" "$work/plugin/plugin.yaml"
  mkdir -p "$(dirname "$plugin_dir")"
  rm -rf "$plugin_dir"
  mv "$work/plugin" "$plugin_dir"
fi
mkdir -p "$link_dir"
ln -sfn "$plugin_dir" "$link_dir/diff"
echo "helm-diff $HELM_DIFF_VERSION installed: HELM_PLUGINS=$link_dir" >&2
