#!/usr/bin/env bash
# Stop what scripts/serve.sh started: the workers (and any flow runs they are running),
# then the Prefect server.  The database under $PREFECT_HOME is kept; delete the folder
# (default .prefect/) to start from scratch.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PREFECT_HOME="${PREFECT_HOME:-$repo/.prefect}"

stop_group() {  # stop_group NAME PIDFILE: end the process group started by serve.sh
    local name="$1" pidfile="$2" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pidfile"
        return 0
    fi
    # a background Prefect worker ignores the first SIGTERM (it starts a graceful shutdown):
    # send it to the whole group, again after a moment, then SIGKILL what is left after 20 s
    kill -TERM -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        [[ $i == 4 ]] && { kill -TERM -- "-$pid" 2>/dev/null || true; }
        sleep 0.5
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
        echo "stop: $name (pid $pid) did not stop within 20 s; killing it" >&2
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "stop: stopped $name (pid $pid)"
}

shopt -s nullglob
for pidfile in "$PREFECT_HOME"/worker-*.pid; do
    name="$(basename "$pidfile" .pid)"
    stop_group "$name" "$pidfile"
done
stop_group "Prefect server" "$PREFECT_HOME/server.pid"
