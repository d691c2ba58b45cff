#!/usr/bin/env bash
# Regenerate the "Parameters" tables of the chart READMEs from the `## @param` comments of
# each values.yaml, with @bitnami/readme-generator-for-helm (pinned) installed from npm into
# .tools/node (gitignored; never a global install).
#
#   tools/chart-readme.sh            # rewrite the READMEs
#   tools/chart-readme.sh --check    # exit 1 when a README table is stale (no file changed)
set -euo pipefail

GENERATOR_VERSION=2.7.2
repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$repo/.tools/node"
bin="$prefix/node_modules/.bin/readme-generator"
charts="$repo/charts"

command -v node >/dev/null || { echo "chart-readme: node is not installed" >&2; exit 2; }
if [[ ! -x "$bin" ]] || [[ "$(node -p "require('$prefix/node_modules/@bitnami/readme-generator-for-helm/package.json').version" 2>/dev/null)" != "$GENERATOR_VERSION" ]]; then
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@bitnami/readme-generator-for-helm@$GENERATOR_VERSION" >&2
fi

check=0
[[ "${1:-}" == "--check" ]] && check=1
status=0
for dir in "$charts/kubiya-runner" "$charts/agent-manager" "$charts/tool-manager" "$charts/kubiya-operator"; do
  readme="$dir/README.md"
  target="$readme"
  if (( check )); then
    target="$(mktemp)"
    cp "$readme" "$target"
  fi
  "$bin" --values "$dir/values.yaml" --readme "$target" >/dev/null
  if (( check )); then
    if ! diff -u "$readme" "$target" >&2; then
      echo "chart-readme: $readme is stale: run tools/chart-readme.sh" >&2
      status=1
    fi
    rm -f "$target"
  fi
done
exit $status
