#!/usr/bin/env bash
# A local OSD cluster of separate JVMs on this machine.
#   cluster-config/local-cluster.sh up N    start N nodes (N >= 3: gateway; target; draft + trainer; further
#                                            nodes are draft replicas. N = 1: one node with every role;
#                                            N = 2: gateway + target, draft + trainer), wait until the gateway is
#                                            ready and print its URL
#   cluster-config/local-cluster.sh down    stop them (SIGTERM: trainers save their drafts)
#   cluster-config/local-cluster.sh status  the members as the gateway sees them
# Environment: OSD_HTTP_PORT (8080), OSD_CLUSTER_PORT (25520, the first node's; the others count up),
# OSD_MANAGEMENT_PORT (8558, pekko-management's /alive and /ready of the first node; the others count up),
# OSD_NODE_HEAP (2g), OSD_RUN_DIR (cluster-config/.run: pids, logs, drafts' state), OSD_CMD (how to run osd;
# default: the ./osd launcher, which builds the jar when sources changed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
RUN="${OSD_RUN_DIR:-$HERE/.run}"
HTTP_PORT="${OSD_HTTP_PORT:-8080}"
BASE="${OSD_CLUSTER_PORT:-25520}"
MGMT="${OSD_MANAGEMENT_PORT:-8558}"
HEAP="${OSD_NODE_HEAP:-2g}"
OSD_CMD="${OSD_CMD:-$ROOT/osd}"

roles_of() { # node index (1-based), node count
  local i=$1 n=$2
  if [ "$n" -eq 1 ]; then echo "gateway,target,draft,trainer"; return; fi
  if [ "$n" -eq 2 ]; then [ "$i" -eq 1 ] && echo "gateway,target" || echo "draft,trainer"; return; fi
  case "$i" in
    1) echo "gateway" ;;
    2) echo "target" ;;
    3) echo "draft,trainer" ;;
    *) echo "draft" ;;
  esac
}

config_of() { # the role file of the node's main role (a trainer's file for a draft + trainer node)
  case "$1" in
    *gateway*) echo "$HERE/gateway.conf" ;;
    *target*) echo "$HERE/target.conf" ;;
    *trainer*) echo "$HERE/trainer.conf" ;;
    *) echo "$HERE/draft.conf" ;;
  esac
}

up() {
  local n="${1:-3}"
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then echo "local-cluster.sh up N: N must be a number >= 1" >&2; exit 2; fi
  if ls "$RUN"/node*.pid >/dev/null 2>&1; then echo "a local cluster runs already ($RUN); 'down' first" >&2; exit 1; fi
  mkdir -p "$RUN"
  # build once, before the nodes start in parallel
  $OSD_CMD --version >/dev/null
  for i in $(seq 1 "$n"); do
    local roles port
    roles="$(roles_of "$i" "$n")"
    port=$((BASE + i - 1))
    OSD_JAVA_OPTS="-Xmx$HEAP ${OSD_JAVA_OPTS:-}" nohup $OSD_CMD node --roles "$roles" \
      --cluster-port "$port" --port "$HTTP_PORT" --seed-nodes "127.0.0.1:$BASE" --state "$RUN/state" \
      --management-port "$((MGMT + i - 1))" \
      --config "$(config_of "$roles")" >"$RUN/node$i.log" 2>&1 &
    echo $! >"$RUN/node$i.pid"
    echo "node $i: roles $roles, cluster port $port, health http://127.0.0.1:$((MGMT + i - 1))/ready, log $RUN/node$i.log"
  done
  local url="http://127.0.0.1:$HTTP_PORT"
  for _ in $(seq 1 240); do
    # ready answers once the gateway can serve; "up" waits for the whole cluster: nothing degraded
    if curl -fs "$url/health/ready" 2>/dev/null | grep -q '"degraded":\[\]'; then
      echo "$url"
      return 0
    fi
    sleep 0.5
  done
  echo "the gateway did not become ready in 120 s; see $RUN/node1.log" >&2
  exit 1
}

down() {
  local pids=()
  for f in "$RUN"/node*.pid; do
    [ -e "$f" ] || continue
    pids+=("$(cat "$f")")
  done
  if [ "${#pids[@]}" -eq 0 ]; then echo "no local cluster runs"; return 0; fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 120); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.5
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$RUN"/node*.pid
  echo "stopped ${#pids[@]} nodes"
}

status() {
  local url="http://127.0.0.1:$HTTP_PORT"
  for f in "$RUN"/node*.pid; do
    [ -e "$f" ] || { echo "no local cluster runs"; return 0; }
    local p n ready; p="$(cat "$f")"; n="$(basename "$f" .pid)"; n="${n#node}"
    ready="$(curl -fs "http://127.0.0.1:$((MGMT + n - 1))/ready" >/dev/null 2>&1 && echo ready || echo "not ready")"
    if kill -0 "$p" 2>/dev/null; then echo "node$n: pid $p running, $ready"; else echo "node$n: pid $p gone"; fi
  done
  curl -fs "$url/cluster" && echo || echo "the gateway at $url does not answer"
}

case "${1:-}" in
  up) up "${2:-3}" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up N | down | status" >&2; exit 2 ;;
esac
