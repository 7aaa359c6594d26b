# lib.sh -- shared helpers for the deploy/local scripts (sourced, not run).
#
# Defines where things live (repo root, caches, runtime folder), logging,
# a poll-with-deadline helper, and process helpers that only ever signal a
# pid after checking it is still the process we started: a pid file stores
# "PID STARTTIME" (field 22 of /proc/PID/stat), so a recycled pid is never
# mistaken for ours.

LH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LH_LOCAL="$LH_ROOT/deploy/local"
LH_CACHE="$LH_ROOT/.cache"
LH_RUN="$LH_ROOT/.services"
LH_KAFKA_VERSION=3.9.1
LH_KAFKA_LIBS="$LH_CACHE/kafka/libs"
LH_AZURITE_BIN="$LH_LOCAL/node_modules/.bin/azurite-blob"

lh_log() { printf '[%s] %s\n' "${LH_PROG:-leasehold}" "$*" >&2; }
lh_die() { lh_log "error: $*"; exit 1; }

# Seconds since the epoch with sub-second precision, for durations in logs.
lh_now() { date +%s.%N; }
lh_elapsed() { awk -v a="$1" -v b="$(lh_now)" 'BEGIN { printf "%.1f", b - a }'; }

# lh_wait_until SECONDS WHAT CMD...: poll CMD every 0.25 s until it succeeds;
# return 1 after SECONDS. If LH_WAIT_PID is set and that process dies first,
# give up at once (a crashed service will never answer).
lh_wait_until() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  while ! "$@" >/dev/null 2>&1; do
    if [ -n "${LH_WAIT_PID:-}" ] && ! kill -0 "$LH_WAIT_PID" 2>/dev/null; then
      lh_log "$what: process $LH_WAIT_PID exited before answering"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      lh_log "$what: no answer within ${limit}s"
      return 1
    fi
    sleep 0.25
  done
}

# Any HTTP status at all (even 400/403) means the server answers.
lh_http_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@") || true
  [ -n "$code" ] && [ "$code" != "000" ]
}

# lh_port_taken HOST PORT: something accepts TCP connections there.
lh_port_taken() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# lh_await_busy NAME HOST PORT CHECK: a service that holds its port but is
# slow to answer (Azurite pauses under load, a broker still starting) is
# waited for, not doubled: a second one could only fail with EADDRINUSE.
# Returns 1 when the port is free (start one), 0 once CHECK answers; dies
# when whatever holds the port never answers.
lh_await_busy() {
  local name=$1 host=$2 port=$3 check=$4
  lh_port_taken "$host" "$port" || return 1
  lh_log "$name: $host:$port is taken but does not answer yet; waiting for it"
  LH_WAIT_PID='' lh_wait_until 120 "$name on $host:$port" "$check" \
    || lh_die "$name: $host:$port is held by something that does not answer as $name"
}

lh_proc_starttime() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

# lh_pidfile_write FILE PID
lh_pidfile_write() { printf '%s %s\n' "$2" "$(lh_proc_starttime "$2")" >"$1"; }

# lh_pidfile_live FILE: print the pid if the recorded process still runs.
lh_pidfile_live() {
  local pid start
  [ -f "$1" ] || return 1
  read -r pid start <"$1" || return 1
  [ -n "$pid" ] && [ "$(lh_proc_starttime "$pid")" = "$start" ] || return 1
  echo "$pid"
}

# lh_stop_pidfile FILE NAME: SIGTERM the recorded process, wait up to 60 s
# for it to exit (Kafka's controlled shutdown takes a few seconds), then
# SIGKILL. Removes the pid file either way.
lh_stop_pidfile() {
  local file=$1 name=$2 pid
  if pid=$(lh_pidfile_live "$file"); then
    lh_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! LH_WAIT_PID='' lh_wait_until 60 "$name shutdown" lh_pid_gone "$pid"; then
      lh_log "$name did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      lh_wait_until 10 "$name kill" lh_pid_gone "$pid" || lh_die "$name (pid $pid) survived SIGKILL"
    fi
  fi
  rm -f "$file"
}
lh_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# lh_start_bg LOG CMD...: run CMD detached in its own session (so Ctrl-C in
# the calling terminal does not reach it), stdin from /dev/null, output to
# LOG, without inheriting the caller's lock descriptor 9. Prints its pid.
# setsid does not fork here (a background job is no group leader), so $! is
# the service's own pid.
lh_start_bg() {
  local log=$1
  shift
  setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
  echo $!
}

lh_tail_log() {
  lh_log "last lines of $1:"
  tail -n "${2:-30}" "$1" >&2 || true
}

# The Java used for Kafka: Debian's 17 when present, else whatever is on PATH.
lh_java() {
  local j
  for j in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    [ -x "$j" ] && { echo "$j"; return; }
  done
  command -v java
}

# lh_kafka_tool CLASS ARGS...: run a one-shot Kafka tool from the cached jars.
lh_kafka_tool() {
  "$(lh_java)" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$LH_LOCAL/kafka/tools-log4j.properties" \
    -cp "$LH_KAFKA_LIBS/*" "$@"
}

# lh_build DIR [CMAKE_ARGS...]: configure (every time, so new test fragments
# under tests/*.cmake are picked up; cheap when nothing changed) and build
# with two jobs. Extra arguments only matter on the first configure of DIR.
lh_build() {
  local dir=$1 t0
  shift
  t0=$(lh_now)
  if [ -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$LH_ROOT" -B "$dir" >/dev/null
  else
    cmake -S "$LH_ROOT" -B "$dir" "$@" >/dev/null
  fi
  cmake --build "$dir" -j "${LEASEHOLD_BUILD_JOBS:-2}"
  lh_log "built ${dir#"$LH_ROOT"/} in $(lh_elapsed "$t0")s"
}
