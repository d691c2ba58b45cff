#!/usr/bin/env bash
# Link the pinned, cached binaries (tools/build.sh) into .tools/bin so
# that one PATH entry gives helm, kubectl and the control plane commands.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$repo/tools/versions.env"
cache=${KUBIYA_CACHE_DIR:-$HOME/.cache/kubiya-runners}
mkdir -p "$repo/.tools/bin"
for f in "$cache/bin/helm-$HELM_VERSION/helm" \
  "$cache/bin/kubernetes-$KUBERNETES_VERSION"/{kubectl,kube-apiserver,kube-controller-manager,kube-scheduler} \
  "$cache/bin/etcd-$ETCD_VERSION/etcd" "$cache/bin/kwok-$KWOK_VERSION/kwok" \
  "$cache/bin/kube-state-metrics-$KUBE_STATE_METRICS_VERSION/kube-state-metrics" \
  "$cache/bin/prometheus-$PROMETHEUS_VERSION/prometheus" \
  "$cache/bin/chart-testing-$CHART_TESTING_VERSION/ct"; do
  [[ -x $f ]] || { echo "missing $f: run tools/build.sh" >&2; exit 1; }
  ln -sfn "$f" "$repo/.tools/bin/$(basename "$f")"
done
# ct's default chart schema and lint rules (tools/chart-ci.sh)
ln -sfn "$cache/bin/chart-testing-$CHART_TESTING_VERSION/etc" "$repo/.tools/ct-etc"
