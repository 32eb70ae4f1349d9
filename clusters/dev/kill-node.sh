#!/usr/bin/env bash
# Simulate the loss of worker node N of the dev cluster: SIGKILL its raylet (found as the child of
# that node's `ray start --block` process). The node's `ray start` then reaps the rest of the node;
# the head marks it dead and its actors die with it.
#
#   bash clusters/dev/kill-node.sh 1
set -euo pipefail

DEV_DIR="${EVALFLEET_DEV_DIR:-/tmp/evalfleet-dev-${USER:-$(id -un)}}"
N="${1:?usage: kill-node.sh WORKER_NUMBER}"
pid="$(cat "$DEV_DIR/worker-$N.pid")"
raylet="$(pgrep -P "$pid" -x raylet || true)"
if [ -z "$raylet" ]; then
  echo "worker node $N (pid $pid) has no raylet" >&2
  exit 1
fi
kill -KILL "$raylet"
echo "killed raylet $raylet of worker node $N"
