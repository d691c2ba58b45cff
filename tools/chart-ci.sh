#!/usr/bin/env bash
# Chart CI (make chart-ci, a gate of make test): chart-testing's `ct lint` over every chart
# under charts/ -- `helm lint --strict` with each ci/*-values.yaml, Chart.yaml against ct's schema, YAML
# lint, and the version-bump check (a chart changed against the target branch must carry a
# higher version). The Alloy configuration of each ci/ values file is parsed by Alloy's own
# parser in tests/unit/chart/test_chart_alloy_syntax.py (tools/alloycheck).
#
# CT_TARGET_BRANCH (default main) and CT_REMOTE (default origin) name what the version-bump
# check compares with; when that ref does not exist (a clone without the remote branch) the
# check is skipped, saying so, and the rest still runs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH=$repo/.tools/bin:$repo/.venv/bin:$PATH
etc=$repo/.tools/ct-etc
[[ -x $repo/.tools/bin/ct && -f $etc/chart_schema.yaml ]] || { echo "chart-ci: ct missing: run make setup" >&2; exit 2; }

# --skip-helm-dependencies: the subcharts are directories in charts/kubiya-runner/charts/;
# `helm dependency build` would write their archives and a Chart.lock into the working tree,
# next to the directories, and helm would then load each subchart twice.
common=(--chart-yaml-schema "$etc/chart_schema.yaml" --lint-conf "$etc/lintconf.yaml" --validate-maintainers=false --helm-lint-extra-args=--strict
  --skip-helm-dependencies)

# 1. every chart, whatever changed (ct turns its version check off when charts are named)
charts=()
for c in charts/*/Chart.yaml; do charts+=("$(dirname "$c")"); done
ct lint --charts "$(IFS=,; echo "${charts[*]}")" "${common[@]}"

# 2. the charts changed against the target branch: each must carry a higher version
target=${CT_TARGET_BRANCH:-main}
remote=${CT_REMOTE:-origin}
if git rev-parse --verify -q "$remote/$target" >/dev/null; then
  ct lint --chart-dirs charts --target-branch "$target" --remote "$remote" --check-version-increment=true "${common[@]}"
else
  echo "chart-ci: $remote/$target does not exist here: version-bump check skipped (set CT_REMOTE/CT_TARGET_BRANCH)"
fi
