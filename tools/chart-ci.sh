#!/usr/bin/env bash
# Chart CI (make chart-ci, a gate of make test), in two phases:
#   tools/chart-ci.sh lint     (the default) chart-testing's `ct lint` over every chart under
#     charts/ -- `helm lint --strict` with each ci/*-values.yaml, Chart.yaml against ct's schema,
#     YAML lint, and the version-bump check (a chart changed against the target branch must
#     carry a higher version).
#   tools/chart-ci.sh install  `ct install` of every chart on the local control plane: for each
#     ci/*-values.yaml a namespace of its own, `helm install --wait`, `helm test`, removal.
#     KUBECONFIG names the cluster; without it the local control plane (.cluster/) is used and
#     started if it is not running -- then stopped again, unless KUBIYA_KEEP_CLUSTER=1 (make
#     test keeps it for pytest, which shares it). The Alloy configuration of each ci/ values file is parsed by Alloy's own
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

# --skip-helm-dependencies: ct would run `helm dependency build` chart by chart in name order,
# so kubiya-runner would package tool-manager before tool-manager has its kubiya-common archive;
# tools/chart-deps.sh builds them all in dependency order first (archives are git-ignored).
common=(--chart-yaml-schema "$etc/chart_schema.yaml" --lint-conf "$etc/lintconf.yaml" --validate-maintainers=false --helm-lint-extra-args=--strict
  --skip-helm-dependencies)

phase=${1:-lint}
charts=()
for c in charts/*/Chart.yaml; do charts+=("$(dirname "$c")"); done

if [[ $phase == install ]]; then
  started=0
  if [[ -z ${KUBECONFIG:-} ]]; then
    cluster_dir=${KUBIYA_CLUSTER_DIR:-$repo/.cluster}
    if ! { [[ -f $cluster_dir/kubeconfig ]] && tests/cluster/status.sh >/dev/null 2>&1; }; then
      echo "chart-ci: starting the local control plane for ct install"
      tests/cluster/up.sh >/dev/null
      started=1
    fi
    export KUBECONFIG=$cluster_dir/kubeconfig
  fi
  work=$(mktemp -d)
  prereq_ns=() prereq_sc=()
  stop() {
    for ns in "${prereq_ns[@]}"; do kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true; done
    for sc in "${prereq_sc[@]}"; do kubectl delete storageclass "$sc" --ignore-not-found >/dev/null 2>&1 || true; done
    rm -rf "$work"
    if ((started)) && [[ ${KUBIYA_KEEP_CLUSTER:-} != 1 ]]; then tests/cluster/down.sh >/dev/null 2>&1 || true; fi
  }
  trap stop EXIT
  # ct runs `helm dependency build`, which writes archives of the subchart directories next to
  # them: it works on a copy of the charts git knows (tracked or new), never the working tree.
  git ls-files -co --exclude-standard -z charts | tar -cf - --null -T - | tar -xf - -C "$work"
  git -C "$work" init -q
  "$repo/tools/chart-deps.sh" "$work/charts"
  # What a customer's cluster has before installing, as the ci/ values name it: the dagger
  # namespace (README "Hardened profile"), labelled to admit the privileged dagger engine, and
  # the dagger cache's StorageClass (here: the local cluster's own host-path provisioner).
  while read -r kind name; do
    case $kind in
      namespace)
        kubectl create namespace "$name" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
        kubectl label --overwrite namespace "$name" pod-security.kubernetes.io/enforce=privileged >/dev/null
        prereq_ns+=("$name") ;;
      storageclass)
        kubectl get storageclass "$name" >/dev/null 2>&1 && continue
        printf 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: %s}\nprovisioner: kubernetes.io/host-path\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\n' "$name" \
          | kubectl apply -f - >/dev/null
        prereq_sc+=("$name") ;;
    esac
  done < <("$repo/.venv/bin/python" -c '
import glob, yaml
for f in sorted(glob.glob("charts/*/ci/*-values.yaml")):
    v = yaml.safe_load(open(f)) or {}
    ns = (v.get("global") or {}).get("daggerNamespace")
    sc = ((v.get("dagger") or {}).get("persistence") or {}).get("storageClassName")
    if ns: print("namespace", ns)
    if sc: print("storageclass", sc)' | sort -u)
  # ct creates a namespace per chart and values file, named after the release, installs with
  # --wait, runs `helm test`, then removes release and namespace (kubectl from the control
  # plane's binaries). kwok has no container logs: ct's "Error printing details" lines are
  # its log dump failing, not the test.
  # (ct install has no --skip-helm-dependencies: its own `helm dependency build`, chart by chart
  # in name order, finds every component's kubiya-common archive already built above)
  # library charts (kubiya-common) cannot be installed: ct 3.12 tries and fails, so they are left
  # out here (helm lint and the charts that depend on them cover them)
  installable=()
  for c in "${charts[@]}"; do grep -q '^type: *library' "$c/Chart.yaml" || installable+=("$c"); done
  (cd "$work" && ct install --charts "$(IFS=,; echo "${installable[*]}")" --helm-extra-args "--timeout 300s")
  exit
fi
[[ $phase == lint ]] || { echo "chart-ci: unknown phase '$phase' (lint or install)" >&2; exit 2; }

"$repo/tools/chart-deps.sh"   # the archives helm lint reads, fresh from the chart directories
# 1. every chart, whatever changed (ct turns its version check off when charts are named)
ct lint --charts "$(IFS=,; echo "${charts[*]}")" "${common[@]}"

# 2. the charts changed against the target branch: each must carry a higher version
target=${CT_TARGET_BRANCH:-main}
remote=${CT_REMOTE:-origin}
if git rev-parse --verify -q "$remote/$target" >/dev/null; then
  ct lint --chart-dirs charts --target-branch "$target" --remote "$remote" --check-version-increment=true "${common[@]}"
else
  echo "chart-ci: $remote/$target does not exist here: version-bump check skipped (set CT_REMOTE/CT_TARGET_BRANCH)"
fi
