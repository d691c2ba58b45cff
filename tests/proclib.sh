# shellcheck shell=bash
# Process helpers shared by the local harnesses (tests/central, tests/registry): sourced by
# their lib.sh, which define log().

# alive = exists and is not a zombie waiting to be reaped
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
  [[ $state != Z ]]
}

# stop_pid NAME PID: SIGTERM, up to 10 s, then SIGKILL; logs what it did
stop_pid() {
  local name=$1 pid=$2 i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "$name (pid $pid) ignored SIGTERM for 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "$name stopped (pid $pid)"
}
