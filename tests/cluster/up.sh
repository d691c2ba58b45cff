#!/usr/bin/env bash
# Start the local test control plane: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler (built from the upstream Go modules)
# and kwok with two fake nodes (amd64, arm64). Everything listens on 127.0.0.1.
#
#   tests/cluster/up.sh        build once (cached), start, wait until Ready
#
# State, logs and PIDs live in $KUBIYA_CLUSTER_DIR (default: <repo>/.cluster);
# the cluster-admin kubeconfig is $KUBIYA_CLUSTER_DIR/kubeconfig.
# Running it again while the cluster is healthy does nothing. If a component
# has died it says which one, shows its log tail and exits 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

cluster_check_dead() {
  local dead=() c
  for c in "${COMPONENTS[@]}"; do
    if [[ -f $STATE/pids/$c ]] && ! pid_alive "$(cat "$STATE/pids/$c")"; then
      dead+=("$c")
    fi
  done
  if ((${#dead[@]})); then
    for c in "${dead[@]}"; do
      log "component '$c' is not running (pid $(cat "$STATE/pids/$c")); last lines of $STATE/logs/$c.log:"
      tail -n 20 "$STATE/logs/$c.log" >&2 || true
    done
    log "the cluster is broken: run 'make cluster-down' then 'make cluster-up'"
    return 1
  fi
}

if [[ -d $STATE/pids ]] && compgen -G "$STATE/pids/*" >/dev/null; then
  cluster_check_dead
  if wait_ready 10; then
    log "already running; kubeconfig: $KUBECONFIG_PATH"
    exit 0
  fi
  log "processes are alive but the cluster is not Ready; see $STATE/logs"
  exit 1
fi

started=$SECONDS
"$repo/tools/build.sh" etcd kubernetes kwok
mkdir -p "$STATE"/{pids,logs,pki,etcd}
chmod 700 "$STATE"

# --- certificates (generated per cluster, never committed) -----------------
pki=$STATE/pki
gen_ca "$pki"
gen_cert "$pki" apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1"
gen_cert "$pki" admin "/O=system:masters/CN=kubiya-test-admin"
gen_cert "$pki" controller-manager "/CN=system:kube-controller-manager"
gen_cert "$pki" scheduler "/CN=system:kube-scheduler"
gen_cert "$pki" kwok "/O=system:masters/CN=kwok-controller"
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

for who in admin controller-manager scheduler kwok; do
  write_kubeconfig "$STATE/$who.kubeconfig" "$who"
done
cp "$STATE/admin.kubeconfig" "$KUBECONFIG_PATH"

# --- processes ---------------------------------------------------------------
start etcd "$ETCD_BIN" \
  --name=kubiya-test --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="kubiya-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="http://127.0.0.1:$ETCD_METRICS_PORT" \
  --quota-backend-bytes=1073741824 --log-level=warn
wait_for "etcd" 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$K8S_DIR/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-mode=RBAC \
  --allow-privileged=true \
  --profiling=false --v=1
wait_for "kube-apiserver" 60 curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

start kube-controller-manager "$K8S_DIR/kube-controller-manager" \
  --kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --enable-hostpath-provisioner=true \
  --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
  --v=1

start kube-scheduler "$K8S_DIR/kube-scheduler" \
  --kubeconfig="$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --v=1

kwok_stages=()
for f in "$here"/kwok/*.yaml; do kwok_stages+=(--config="$f"); done
start kwok "$KWOK_BIN" \
  --kubeconfig="$STATE/kwok.kubeconfig" "${kwok_stages[@]}" \
  --manage-all-nodes=false --manage-nodes-with-label-selector=type=kwok \
  --cidr="${KUBIYA_POD_CIDR:-127.1.0.0/16}" --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT" --node-lease-duration-seconds=40

# --- cluster content: fake nodes and a default StorageClass -------------------
"$KUBECTL" --kubeconfig="$KUBECONFIG_PATH" apply -f "$here/manifests/" >"$STATE/logs/bootstrap.log"

if ! wait_ready 60; then
  cluster_check_dead || true
  log "cluster did not become Ready in time; logs in $STATE/logs"
  exit 1
fi
log "Ready in $((SECONDS - started))s (kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
cat >&2 <<EOF
[cluster] use it with:
  export KUBECONFIG=$KUBECONFIG_PATH
  $KUBECTL get nodes
[cluster] logs: $STATE/logs/<component>.log   stop: make cluster-down
EOF
