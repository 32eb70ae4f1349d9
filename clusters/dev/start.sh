#!/usr/bin/env bash
# Start a multi-node Ray cluster on this machine: one head and N worker nodes, each worker node
# declaring GPUs (Ray trusts the number without hardware), token authentication on.
#
#   bash clusters/dev/start.sh            # then: source "$EVALFLEET_DEV_DIR/env.sh"
#   bash clusters/dev/stop.sh
#
# Settings (environment, all optional):
#   EVALFLEET_DEV_DIR        state directory: pid files, logs, token, Ray temp dir
#                            (default /tmp/evalfleet-dev-$USER; keep it short: Ray puts Unix sockets in it)
#   EVALFLEET_DEV_GCS_PORT   head GCS port (default 6390)
#   EVALFLEET_DEV_DASHBOARD_PORT  dashboard / job API port (default 8275)
#   EVALFLEET_DEV_CLIENT_PORT  head's Ray client server port (default 20290: Ray's 10001 may be taken, and
#                            10002-19999 are its worker ports)
#   EVALFLEET_DEV_WORKERS    worker nodes (default 2)
#   EVALFLEET_DEV_GPUS       GPUs each worker node declares (default 1)
#   EVALFLEET_DEV_CPUS       CPUs each worker node declares (default 1)
#   EVALFLEET_DEV_HEAD_CPUS  CPUs the head declares (default 1; it declares no GPU, so no model lands there)
#   EVALFLEET_DEV_OBJECT_STORE  object store bytes per node (default 200000000)
#   EVALFLEET_DEV_WAIT_S     seconds to wait for all nodes to register (default 300)
#
# Each node is one `ray start --block` process in the background; its pid is in
# $EVALFLEET_DEV_DIR/<node>.pid. stop.sh sends it SIGTERM, which drains the node and stops the
# processes of that node only: other Ray clusters on the machine are never touched (no `ray stop`).
set -euo pipefail

DEV_DIR="${EVALFLEET_DEV_DIR:-/tmp/evalfleet-dev-${USER:-$(id -un)}}"
GCS_PORT="${EVALFLEET_DEV_GCS_PORT:-6390}"
DASH_PORT="${EVALFLEET_DEV_DASHBOARD_PORT:-8275}"
CLIENT_PORT="${EVALFLEET_DEV_CLIENT_PORT:-20290}"
WORKERS="${EVALFLEET_DEV_WORKERS:-2}"
GPUS="${EVALFLEET_DEV_GPUS:-1}"
CPUS="${EVALFLEET_DEV_CPUS:-1}"
HEAD_CPUS="${EVALFLEET_DEV_HEAD_CPUS:-1}"
STORE="${EVALFLEET_DEV_OBJECT_STORE:-200000000}"
WAIT_S="${EVALFLEET_DEV_WAIT_S:-300}"

mkdir -p "$DEV_DIR/logs"
if [ -e "$DEV_DIR/head.pid" ] && kill -0 "$(cat "$DEV_DIR/head.pid")" 2>/dev/null; then
  echo "a dev cluster is already running from $DEV_DIR (stop it with clusters/dev/stop.sh)" >&2
  exit 1
fi

# Token authentication: one shared secret for every node and every client. Ray reads it from
# RAY_AUTH_TOKEN, else the file named by RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token; RAY_AUTH_MODE=token
# makes every node and client require and send it.
TOKEN_FILE="$DEV_DIR/auth_token"
if [ ! -s "$TOKEN_FILE" ]; then
  (umask 077 && python -c "import secrets; print(secrets.token_hex(32), end='')" > "$TOKEN_FILE")
fi
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH="$TOKEN_FILE"
unset RAY_AUTH_TOKEN RAY_ADDRESS
export RAY_USAGE_STATS_ENABLED=0

# Every node's dashboard agent on a port of its own (0 = any free one): Ray's default 52365 is shared by
# every Ray on the machine, and a head whose agent cannot bind it accepts no job submissions.
# Each node its own temp dir, as on separate machines: nodes sharing one would each re-unpack a job's
# working directory into the same folder (Ray removes it first), under the driver and the other nodes' workers.
common=(--block --disable-usage-stats --object-store-memory "$STORE"
        --dashboard-agent-listen-port 0)

# start_node NAME ARGS...: `ray start --block ARGS` in the background, until the node has registered
# with the GCS (`ray start` prints its "--block" banner only then). On a loaded machine a node can
# miss Ray's fixed 30 s registration window and exit: retry.
start_node() {
  local name="$1"; shift
  local attempt pid log="$DEV_DIR/logs/$name.log"
  for attempt in 1 2 3; do
    [ -e "$log" ] && mv "$log" "$log.$attempt"
    nohup ray start "$@" "${common[@]}" --temp-dir "$DEV_DIR/ray-$name" > "$log" 2>&1 &
    pid=$!
    echo "$pid" > "$DEV_DIR/$name.pid"
    while kill -0 "$pid" 2>/dev/null; do
      if grep -q "block forever" "$log"; then return 0; fi
      if [ $SECONDS -ge $deadline ]; then
        echo "node $name did not join within ${WAIT_S}s; log: $log" >&2
        return 1
      fi
      sleep 1
    done
    echo "node $name exited during startup (attempt $attempt), retrying; log: $log" >&2
  done
  tail -n 20 "$log" >&2 || true
  return 1
}

deadline=$((SECONDS + WAIT_S))
fail() { bash "$(dirname "$0")/stop.sh" > /dev/null 2>&1; exit 1; }

start_node head --head --port "$GCS_PORT" --node-ip-address 127.0.0.1 \
  --dashboard-host 127.0.0.1 --dashboard-port "$DASH_PORT" --ray-client-server-port "$CLIENT_PORT" --num-cpus "$HEAD_CPUS" --num-gpus 0 || fail

# Worker nodes one after the other: each registers before the next starts (gentler on small machines).
for i in $(seq 1 "$WORKERS"); do
  start_node "worker-$i" --address "127.0.0.1:$GCS_PORT" --node-ip-address 127.0.0.1 \
    --num-cpus "$CPUS" --num-gpus "$GPUS" || fail
done

alive="$(timeout 60 python - "$GCS_PORT" <<'PY' 2>/dev/null
import sys
from ray._raylet import GcsClient
nodes = GcsClient(address=f"127.0.0.1:{sys.argv[1]}").get_all_node_info()
print(sum(1 for n in nodes.values() if n.state == 0))
PY
)"
if [ "$alive" != "$((WORKERS + 1))" ]; then
  echo "expected $((WORKERS + 1)) alive nodes, the GCS reports '$alive'" >&2
  fail
fi

cat > "$DEV_DIR/env.sh" <<ENV
# source this file to talk to the dev cluster (ray job submit, ray status, evalfleet run --address)
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH="$TOKEN_FILE"
export RAY_ADDRESS="http://127.0.0.1:$DASH_PORT"
export EVALFLEET_DEV_GCS_ADDRESS="127.0.0.1:$GCS_PORT"
ENV
echo "dev cluster up: head + $WORKERS worker nodes ($GPUS GPU each)"
echo "  dashboard / jobs: http://127.0.0.1:$DASH_PORT    GCS: 127.0.0.1:$GCS_PORT"
echo "  client settings:  source $DEV_DIR/env.sh"
