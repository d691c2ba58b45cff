#!/usr/bin/env bash
# Build, once per pinned version, the binaries of the local test cluster and
# the client tools, from the Go module proxy (wrapper modules in tools/build/). Output:
#   $KUBIYA_CACHE_DIR/bin/<name>-<version>/<binaries>   (+ a .complete stamp)
# A second call with everything present returns in well under a second.
#
# usage: build.sh [kubernetes|etcd|kwok|helm|kubectl|kube-state-metrics|prometheus|chart-testing|all]...
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE=${KUBIYA_CACHE_DIR:-$HOME/.cache/kubiya-runners}
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0

log() { printf '[build] %s\n' "$*" >&2; }

bindir() { printf '%s/bin/%s-%s' "$CACHE" "$1" "$2"; }

# run_build NAME VERSION CMD...: run CMD with $out set, unless already built.
run_build() {
  local name=$1 version=$2; shift 2
  out=$(bindir "$name" "$version")
  if [[ -f $out/.complete ]]; then
    return 0
  fi
  # one build per binary at a time across checkouts sharing the cache (two worktrees'
  # `make setup` would otherwise write the same .tmp directory); the second waits, then
  # finds the first one's result
  mkdir -p "$CACHE/bin"
  exec {lock}>"$out.lock"
  flock "$lock"
  if [[ -f $out/.complete ]]; then
    exec {lock}>&-
    return 0
  fi
  log "building $name $version (first time only) -> $out"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  local start=$SECONDS
  out="$out.tmp" "$@"
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  exec {lock}>&-
  log "built $name $version in $((SECONDS - start))s"
}

build_kubernetes() {
  local v=${KUBERNETES_VERSION#v} pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version
  local major=${v%%.*} minor=${v#*.}; minor=${minor%%.*}
  local date ldflags=(-s -w)
  date=$(cd "$here/build/kubernetes" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("Time",""))')
  for p in "$pkg" "$cpkg"; do
    ldflags+=(-X "$p.gitVersion=$KUBERNETES_VERSION" -X "$p.gitMajor=$major" -X "$p.gitMinor=$minor"
      -X "$p.gitTreeState=clean" -X "$p.buildDate=$date")
  done
  (cd "$here/build/kubernetes" &&
    go build -trimpath -ldflags "${ldflags[*]}" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  (cd "$here/build/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
}

build_kwok() {
  GOBIN=$out go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_helm() {
  # As helm's own Makefile does: the default Kubernetes version that helm
  # template/lint assume is derived from the client-go it is built with.
  local gomod cg major minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  cg=$(awk '$1 == "k8s.io/client-go" {print $2}' "$gomod")
  cg=${cg#v0.}; major=1; minor=${cg%%.*}
  local x=helm.sh/helm/v3
  GOBIN=$out go install -trimpath -ldflags "-s -w -X $x/internal/version.version=$HELM_VERSION \
-X $x/internal/version.gitTreeState=clean \
-X $x/pkg/lint/rules.k8sVersionMajor=$major -X $x/pkg/lint/rules.k8sVersionMinor=$minor \
-X $x/pkg/chartutil.k8sVersionMajor=$major -X $x/pkg/chartutil.k8sVersionMinor=$minor" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# go_build_wrapper WRAPPER_DIR PACKAGE BINARY VERSION: build a Prometheus-family
# command (version in github.com/prometheus/common/version) in a wrapper module.
go_build_wrapper() {
  local v=github.com/prometheus/common/version
  (cd "$here/build/$1" &&
    go build -trimpath -ldflags "-s -w -X $v.Version=${4#v} -X $v.Branch=release" -o "$out/$3" "$2")
}

build_kube_state_metrics() {
  go_build_wrapper kube-state-metrics k8s.io/kube-state-metrics/v2 kube-state-metrics "$KUBE_STATE_METRICS_VERSION"
}

# Debian's prometheus package (the central store in tests) is built without
# Kubernetes service discovery, so the agent-mode collector is built here.
build_prometheus() {
  go_build_wrapper prometheus github.com/prometheus/prometheus/cmd/prometheus prometheus "$PROMETHEUS_VERSION"
}

# chart-testing (ct lint: chart lint with every ci/ values file and the version-bump check).
# GONOSUMDB for this one module path: the proxy serves github.com/helm/chart-testing/v3
# v3.12.0, but the checksum database answers 404 for it (measured 2026-11-30), so `go build`
# would refuse it; its hash is pinned in tools/build/chart-testing/go.sum instead.
build_chart_testing() {
  local modroot
  (cd "$here/build/chart-testing" &&
    GONOSUMDB=github.com/helm/chart-testing GOFLAGS="$GOFLAGS -mod=mod" \
      go build -trimpath -ldflags "-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CHART_TESTING_VERSION" \
      -o "$out/ct" github.com/helm/chart-testing/v3/ct)
  # ct's default chart schema and yamllint rules, from the same module version
  modroot=$(cd "$here/build/chart-testing" && GONOSUMDB=github.com/helm/chart-testing \
    go list -m -f '{{.Dir}}' github.com/helm/chart-testing/v3)
  mkdir -p "$out/etc" && cp "$modroot/etc/chart_schema.yaml" "$modroot/etc/lintconf.yaml" "$out/etc/"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(all)
for t in "${targets[@]}"; do
  case $t in
    etcd) run_build etcd "$ETCD_VERSION" build_etcd ;;
    kubernetes | kubectl) run_build kubernetes "$KUBERNETES_VERSION" build_kubernetes ;;
    kwok) run_build kwok "$KWOK_VERSION" build_kwok ;;
    helm) run_build helm "$HELM_VERSION" build_helm ;;
    prometheus) run_build prometheus "$PROMETHEUS_VERSION" build_prometheus ;;
    kube-state-metrics) run_build kube-state-metrics "$KUBE_STATE_METRICS_VERSION" build_kube_state_metrics ;;
    chart-testing | ct) run_build chart-testing "$CHART_TESTING_VERSION" build_chart_testing ;;
    all)
      run_build etcd "$ETCD_VERSION" build_etcd
      run_build kwok "$KWOK_VERSION" build_kwok
      run_build helm "$HELM_VERSION" build_helm
      run_build kubernetes "$KUBERNETES_VERSION" build_kubernetes
      run_build kube-state-metrics "$KUBE_STATE_METRICS_VERSION" build_kube_state_metrics
      run_build prometheus "$PROMETHEUS_VERSION" build_prometheus
      run_build chart-testing "$CHART_TESTING_VERSION" build_chart_testing
      ;;
    *) log "unknown target '$t' (expected kubernetes, etcd, kwok, helm, kubectl, kube-state-metrics, prometheus, chart-testing or all)"; exit 2 ;;
  esac
done
