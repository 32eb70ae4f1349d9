#!/usr/bin/env bash
# Stop the dev cluster started by clusters/dev/start.sh: SIGTERM to each node's `ray start --block`
# process (workers first, then the head), SIGKILL after a grace period. Only the pids recorded in
# $EVALFLEET_DEV_DIR are signalled; other Ray clusters on the machine keep running.
set -uo pipefail

DEV_DIR="${EVALFLEET_DEV_DIR:-/tmp/evalfleet-dev-${USER:-$(id -un)}}"
GRACE_S="${EVALFLEET_DEV_GRACE_S:-20}"

stop_node() {  # $1 = pid file
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + GRACE_S))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "node $(basename "$1" .pid) ignored SIGTERM, killing" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$1"
}

shopt -s nullglob
for f in "$DEV_DIR"/worker-*.pid; do stop_node "$f"; done
[ -e "$DEV_DIR/head.pid" ] && stop_node "$DEV_DIR/head.pid"
rm -f "$DEV_DIR/env.sh"
echo "dev cluster in $DEV_DIR stopped"
