# shellcheck shell=bash disable=SC2034  # the variables set here are used by the sourcing scripts
# Helpers shared by the scripts in this directory: sourced, never run. Each one is here once because
# two or more scripts need exactly the same behaviour, cache paths and version pins.

# The script's name in messages: the sourcing script sets it first (else its file name).
prog=${prog:-${0##*/}}

# The Kubernetes release of the whole test bed (control-plane and e2e-tools): one pin, never two.
KUBE_VERSION=v1.34.1

# Cache outside the repository, shared by clones and CI; binaries in bin/ are keyed by version.
cache=${GLIDEPATH_CACHE:-$HOME/.cache/glidepath}
bindir=$cache/bin
logdir=$cache/logs

# Marks a control-plane state directory: `down` only ever stops and deletes a directory with it.
cp_marker=.glidepath-control-plane

# die/say MESSAGE: error (exit 1) / progress on stderr, named by script; stdout is for callers.
die() { echo "$prog: error: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

# go_cmd: the go command ($GO, `go` on PATH, /usr/local/go/bin/go): every build, one toolchain.
go_cmd() {
  if [ -n "${GO:-}" ]; then echo "$GO"
  elif command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "no Go toolchain found (set GO=/path/to/go)"
  fi
}

# go_env: the Go settings of the test-bed builds, the same for all so build caches are reused.
go_env() {
  # GOMODCACHE/GOCACHE stay at Go's defaults: other Go work shares the (large) module/build caches.
  export CGO_ENABLED=0        # static binaries, no C toolchain needed
  export GOFLAGS="-mod=mod -buildvcs=false"  # wrapper modules resolve their go.sum as they build
  export GOTOOLCHAIN=${GOTOOLCHAIN:-local}   # never switch toolchains behind the user's back
  export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
}

# build_prepare: GOBIN_CMD, go_env, cache dirs, and the one build lock (fd 9) so builds never race.
build_prepare() {
  GOBIN_CMD=$(go_cmd)
  go_env
  mkdir -p "$bindir" "$logdir" "$cache/build"
  # Two concurrent builds (say, two test runs on a fresh machine) would both spend half an hour
  # and race on the same output: the second one waits here and then finds the binaries cached.
  # The caller releases the lock with `exec 9>&-`.
  exec 9>"$cache/build.lock"
  if ! flock -n 9; then
    say "another build is running; waiting for it ..."
    flock 9
  fi
}

# run_logged LOG CMD...: CMD's output appended to LOG; on failure the log's tail, to show the cause.
run_logged() {
  local log=$1; shift
  echo "+ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    echo "$prog: command failed: $*" >&2
    echo "----- last 40 lines of $log -----" >&2
    tail -n 40 "$log" >&2
    echo "-----" >&2
    return 1
  fi
}

# new_wrapper NAME: prints a new scratch Go module's dir, to build main packages of other modules.
new_wrapper() {
  # `go install pkg@version` refuses modules whose go.mod has `replace` directives (etcd's server
  # module, k8s.io/kubernetes, argo-rollouts); in a wrapper module those replaces are simply
  # ignored and we set our own.
  local dir
  dir=$(mktemp -d "$cache/build/$1.XXXXXX")
  (cd "$dir" && "$GOBIN_CMD" mod init "glidepath.local/$1-build" >/dev/null 2>&1)
  echo "$dir"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, for servers that must not collide.
free_ports() {
  # All sockets are held open until every port has been picked, so the N ports differ; another
  # process could still grab one before our servers bind it, which callers then report as a
  # start-up failure (rare; just run it again).
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# proc_start_time PID: start time in ticks since boot; PID + start time survive PID reuse.
proc_start_time() {
  # field 22 of /proc/PID/stat
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # drop "pid (comm) ", comm may contain spaces
  # shellcheck disable=SC2086
  set -- $stat                  # now $1 is field 3 (state), so field 22 is $20
  echo "${20}"
}

# start_recorded PIDFILE LOG CMD...: CMD in the background, "PID STARTTIME" to PIDFILE ($! = PID).
start_recorded() {
  local pidfile=$1 log=$2; shift 2
  # Detached from our stdin, stdout and stderr (a caller reading our output until EOF, such as a
  # test harness, must not wait for the servers) and immune to SIGHUP.
  nohup "$@" </dev/null >"$log" 2>&1 &
  local pid=$!
  echo "$pid $(proc_start_time "$pid")" >"$pidfile"
}

# recorded_pid PIDFILE [MARK]: the PID if still ours (start time, MARK in cmdline): no stray kill.
recorded_pid() {
  local pidfile=$1 mark=${2:-} pid start now
  [ -f "$pidfile" ] || return 1
  read -r pid start <"$pidfile" || return 1
  now=$(proc_start_time "$pid") || return 1
  [ "$now" = "$start" ] || return 1
  if [ -n "$mark" ]; then
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$mark" || return 1
  fi
  echo "$pid"
}

# stop_recorded PIDFILE NAME TENTHS [MARK]: SIGTERM if ours, SIGKILL after TENTHS/10 s; rm PIDFILE.
stop_recorded() {
  local pidfile=$1 name=$2 tenths=$3 mark=${4:-} pid
  if pid=$(recorded_pid "$pidfile" "$mark"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$tenths"); do
      recorded_pid "$pidfile" "$mark" >/dev/null || break
      sleep 0.1
    done
    if recorded_pid "$pidfile" "$mark" >/dev/null; then
      say "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

# api DIR METHOD PATH [curl args...]: a request as admin to the control plane of state dir DIR.
api() {
  local dir=$1 method=$2 path=$3; shift 3
  curl -sS --max-time 30 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
    --key "$dir/pki/admin.key" -X "$method" "$(cat "$dir/server")$path" "$@"
}
