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
#   EVALFLEET_DEV_WORKERS    worker nodes (default 2)
#   EVALFLEET_DEV_GPUS       GPUs each worker node declares (default 1)
#   EVALFLEET_DEV_CPUS       CPUs each worker node declares (default 1)
#   EVALFLEET_DEV_HEAD_CPUS  CPUs the head declares (default 1; it declares no GPU, so no model lands there)
#   EVALFLEET_DEV_OBJECT_STORE  object store bytes per node (default 200000000)
#
# Each node is one `ray start --block` process in the background; its pid is in
# $EVALFLEET_DEV_DIR/<node>.pid. stop.sh sends it SIGTERM, which drains the node and stops the
# processes of that node only: other Ray clusters on the machine are never touched (no `ray stop`).
set -euo pipefail

DEV_DIR="${EVALFLEET_DEV_DIR:-/tmp/evalfleet-dev-${USER:-$(id -un)}}"
GCS_PORT="${EVALFLEET_DEV_GCS_PORT:-6390}"
DASH_PORT="${EVALFLEET_DEV_DASHBOARD_PORT:-8275}"
WORKERS="${EVALFLEET_DEV_WORKERS:-2}"
GPUS="${EVALFLEET_DEV_GPUS:-1}"
CPUS="${EVALFLEET_DEV_CPUS:-1}"
HEAD_CPUS="${EVALFLEET_DEV_HEAD_CPUS:-1}"
STORE="${EVALFLEET_DEV_OBJECT_STORE:-200000000}"
WAIT_S="${EVALFLEET_DEV_WAIT_S:-120}"

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

common=(--block --disable-usage-stats --temp-dir "$DEV_DIR/ray" --object-store-memory "$STORE")

nohup ray start --head --port "$GCS_PORT" --node-ip-address 127.0.0.1 \
  --dashboard-host 127.0.0.1 --dashboard-port "$DASH_PORT" \
  --num-cpus "$HEAD_CPUS" --num-gpus 0 "${common[@]}" \
  > "$DEV_DIR/logs/head.log" 2>&1 &
echo $! > "$DEV_DIR/head.pid"

# Wait until the GCS answers before adding worker nodes.
deadline=$((SECONDS + WAIT_S))
until ray status --address "127.0.0.1:$GCS_PORT" > /dev/null 2>&1; do
  if ! kill -0 "$(cat "$DEV_DIR/head.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "head node did not come up; log: $DEV_DIR/logs/head.log" >&2
    tail -n 30 "$DEV_DIR/logs/head.log" >&2 || true
    exit 1
  fi
  sleep 1
done

for i in $(seq 1 "$WORKERS"); do
  nohup ray start --address "127.0.0.1:$GCS_PORT" --node-ip-address 127.0.0.1 \
    --num-cpus "$CPUS" --num-gpus "$GPUS" "${common[@]}" \
    > "$DEV_DIR/logs/worker-$i.log" 2>&1 &
  echo $! > "$DEV_DIR/worker-$i.pid"
done

# Wait until every node is registered and alive.
want=$((WORKERS + 1))
until [ "$(python - "$GCS_PORT" <<'PY' 2>/dev/null
import sys
from ray._raylet import GcsClient
nodes = GcsClient(address=f"127.0.0.1:{sys.argv[1]}").get_all_node_info()
print(sum(1 for n in nodes.values() if n.state == 0))
PY
)" = "$want" ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "only some of the $want nodes came up; logs: $DEV_DIR/logs/" >&2
    exit 1
  fi
  sleep 1
done

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
