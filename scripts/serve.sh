#!/usr/bin/env bash
# Start a local Prefect server with instrec's deployments and one worker per work pool.
#
#   scripts/serve.sh            (or `make serve`); stop everything with scripts/stop.sh
#
# State lives in the repository, never in ~/.prefect: the SQLite database, pid files, logs
# and an env file to source are under $PREFECT_HOME (default .prefect/).  The server listens
# on 127.0.0.1 only, with analytics off.  Settings (environment variables):
#   INSTREC_PREFECT_PORT  server port (default 4200)
#   PREFECT_HOME          state folder (default <repo>/.prefect)
#   INSTREC_POOLS         work pools to create and start a worker for (default "cpu gpu")
#   INSTREC_PYTHON_BIN    folder with the prefect executable (default <repo>/.venv/bin)
#   INSTREC_ROOT          the folder flow runs start in: a checkout of this repository, where
#                         relative paths (demo/...) resolve (default this repository)
#   PREFECT_API_DATABASE_CONNECTION_URL  another database (PostgreSQL) instead of SQLite
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${INSTREC_PREFECT_PORT:-4200}"
bin="${INSTREC_PYTHON_BIN:-$repo/.venv/bin}"
pools="${INSTREC_POOLS:-cpu gpu}"
export PREFECT_HOME="${PREFECT_HOME:-$repo/.prefect}"
export PREFECT_API_URL="http://127.0.0.1:${port}/api"
export PREFECT_SERVER_API_HOST=127.0.0.1
export PREFECT_SERVER_API_PORT="$port"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export DO_NOT_TRACK=1
export INSTREC_ROOT="${INSTREC_ROOT:-$repo}"
logs="$PREFECT_HOME/logs"

if [[ ! -x "$bin/prefect" ]]; then
    echo "serve: $bin/prefect not found; run \`make setup\` first (or set INSTREC_PYTHON_BIN)" >&2
    exit 1
fi
mkdir -p "$logs"
cd "$repo"  # prefect.yaml is read from here; workers start here

alive() {  # alive PIDFILE: the process in PIDFILE is running
    [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

healthy() {
    "$bin/python" - "$PREFECT_API_URL/health" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
EOF
}

# 1. the server (reused when this script already started it)
if alive "$PREFECT_HOME/server.pid"; then
    echo "serve: Prefect server already running (pid $(cat "$PREFECT_HOME/server.pid")) at $PREFECT_API_URL"
elif healthy; then
    echo "serve: something else already answers at $PREFECT_API_URL; stop it or choose another port with" \
         "INSTREC_PREFECT_PORT=4300 $0" >&2
    exit 1
else
    echo "serve: starting Prefect server on 127.0.0.1:$port (database under $PREFECT_HOME, log $logs/server.log)"
    setsid nohup "$bin/prefect" server start --host 127.0.0.1 --port "$port" \
        >"$logs/server.log" 2>&1 </dev/null &
    echo $! >"$PREFECT_HOME/server.pid"
fi
for _ in $(seq 1 120); do
    healthy && break
    if ! alive "$PREFECT_HOME/server.pid"; then
        echo "serve: the Prefect server exited while starting; last lines of $logs/server.log:" >&2
        tail -n 20 "$logs/server.log" >&2
        exit 1
    fi
    sleep 1
done
if ! healthy; then
    echo "serve: the Prefect server did not become healthy within 120 s; see $logs/server.log" >&2
    exit 1
fi

# 2. work pools (process workers; `gpu` is meant for workers on GPU machines)
for pool in $pools; do
    if ! "$bin/prefect" work-pool inspect "$pool" >/dev/null 2>&1; then
        "$bin/prefect" work-pool create "$pool" --type process >/dev/null
        echo "serve: created work pool $pool"
    fi
done

# 3. deployments, from prefect.yaml
"$bin/prefect" --no-prompt deploy --all >"$logs/deploy.log" 2>&1 || {
    echo "serve: deploying from prefect.yaml failed; last lines of $logs/deploy.log:" >&2
    tail -n 30 "$logs/deploy.log" >&2
    exit 1
}
echo "serve: deployed prefect.yaml ($(grep -c "^  - name:" "$repo/prefect.yaml") deployments)"

# 4. one worker per pool, in its own process group so stop.sh can end it and its flow runs
for pool in $pools; do
    pidfile="$PREFECT_HOME/worker-$pool.pid"
    if alive "$pidfile"; then
        echo "serve: worker for pool $pool already running (pid $(cat "$pidfile"))"
        continue
    fi
    setsid nohup "$bin/prefect" worker start --pool "$pool" --name "instrec-$pool-$(hostname)" \
        >"$logs/worker-$pool.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    echo "serve: started worker for pool $pool (pid $(cat "$pidfile"), log $logs/worker-$pool.log)"
done

# 5. how to talk to it
cat >"$PREFECT_HOME/env" <<EOF
# source this file to use the local instrec Prefect server: . $PREFECT_HOME/env
export PREFECT_API_URL=$PREFECT_API_URL
export PREFECT_HOME=$PREFECT_HOME
export DO_NOT_TRACK=1
export INSTREC_ROOT=$INSTREC_ROOT
export PATH="$bin:\$PATH"
EOF

cat <<EOF

Prefect is serving instrec at $PREFECT_API_URL (UI: http://127.0.0.1:$port).
Use it from this shell after

    . $PREFECT_HOME/env

then, e.g.

    prefect deployment run 'extract-features/demo' --watch
    prefect deployment run 'extract-features/demo' -p root=my/corpus -p store=my/store.zarr --watch
    prefect deployment run 'train-model/gpu' --watch
    prefect deployment run 'evaluate-model/demo' --watch
    prefect deployment run 'demo-pipeline/demo' --watch
    prefect deployment ls

'reprocess-new-songs/demo' runs by itself every 10 minutes.  Stop everything with scripts/stop.sh.
EOF
