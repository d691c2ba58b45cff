# shellcheck shell=bash
# Shared settings and helpers of the local test control plane (sourced).
# shellcheck disable=SC2034  # variables are used by the scripts that source this

here=${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
repo=${repo:-$(cd "$here/../.." && pwd)}
# shellcheck source=../../tools/versions.env
. "$repo/tools/versions.env"
CACHE=${KUBIYA_CACHE_DIR:-$HOME/.cache/kubiya-runners}
STATE=${KUBIYA_CLUSTER_DIR:-$repo/.cluster}
KUBECONFIG_PATH=$STATE/kubeconfig

ETCD_BIN=$CACHE/bin/etcd-$ETCD_VERSION/etcd
K8S_DIR=$CACHE/bin/kubernetes-$KUBERNETES_VERSION
KUBECTL=$K8S_DIR/kubectl
KWOK_BIN=$CACHE/bin/kwok-$KWOK_VERSION/kwok

# Fixed loopback ports, away from the well-known defaults so a developer's own
# cluster or etcd on this machine does not collide.
ETCD_PORT=${KUBIYA_ETCD_PORT:-23790}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
ETCD_METRICS_PORT=$((ETCD_PORT + 2))
APISERVER_PORT=${KUBIYA_APISERVER_PORT:-16443}
KCM_PORT=$((APISERVER_PORT + 1))
SCHEDULER_PORT=$((APISERVER_PORT + 2))
KWOK_PORT=$((APISERVER_PORT + 3))

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster] %s\n' "$*" >&2; }

# pid_alive PID: the process exists and is not a zombie (an orphan that died
# may stay a zombie where PID 1 does not reap, and kill -0 still succeeds).
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# start NAME BINARY ARGS...: run in its own session, log to logs/NAME.log, record the PID.
start() {
  local name=$1; shift
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds; fail naming WHAT.
wait_for() {
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [[ -f $STATE/pids/$what ]] && ! pid_alive "$(cat "$STATE/pids/$what")"; then
      log "$what exited during start-up; last lines of $STATE/logs/$what.log:"
      tail -n 20 "$STATE/logs/$what.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "$what not healthy after ${limit}s; see $STATE/logs/$what.log"
      return 1
    fi
    sleep 0.5
  done
}

gen_ca() {
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kubiya-test-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
}

# gen_cert DIR NAME SUBJECT [EXTENSION]: key + certificate signed by DIR/ca.
gen_cert() {
  local dir=$1 name=$2 subj=$3 ext=${4:-}
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  if [[ -n $ext ]]; then
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 30 -out "$dir/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  else
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 30 -out "$dir/$name.crt" 2>/dev/null
  fi
  rm -f "$dir/$name.csr"
}

# write_kubeconfig FILE IDENTITY: a kubeconfig for the client certificate IDENTITY.
write_kubeconfig() {
  local file=$1 who=$2 pki=$STATE/pki
  cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
  - name: kubiya-test
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority: $pki/ca.crt
users:
  - name: $who
    user:
      client-certificate: $pki/$who.crt
      client-key: $pki/$who.key
contexts:
  - name: kubiya-test
    context: {cluster: kubiya-test, user: $who}
current-context: kubiya-test
KCFG
  chmod 600 "$file"
}

# ready_once: API ready, both fake nodes Ready, service accounts being created.
ready_once() {
  local k=("$KUBECTL" --kubeconfig="$KUBECONFIG_PATH" --request-timeout=5s)
  "${k[@]}" get --raw /readyz >/dev/null 2>&1 || return 1
  local ready
  ready=$("${k[@]}" get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True)
  [[ $ready -ge 2 ]] || return 1
  "${k[@]}" -n default get serviceaccount default >/dev/null 2>&1
}

# any_dead: true (and names it) when a recorded component process is gone.
any_dead() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if [[ -f $STATE/pids/$c ]] && ! pid_alive "$(cat "$STATE/pids/$c")"; then
      log "component '$c' is not running"
      return 0
    fi
  done
  return 1
}

wait_ready() {
  local deadline=$((SECONDS + $1))
  until ready_once; do
    ((SECONDS < deadline)) || return 1
    any_dead && return 1
    sleep 0.5
  done
}
