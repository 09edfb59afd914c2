#!/usr/bin/env bash
# The topology of docker-compose.yml on this host, without Docker: three clustered nats-servers
# loading nats.conf (users, permissions, JetStream) and two dspex nodes with a `general` worker each.
#
#   scripts/cluster.sh up      # starts everything, waits for the nodes' ready lines
#   scripts/cluster.sh down    # stops the nodes (SIGTERM, drain) and the servers; removes the dir
#
# Environment (all optional):
#   DSPEX_CLUSTER_DIR     state, logs, pid files and $DIR/env (default /tmp/dspex-cluster)
#   DSPEX_CLUSTER_PORT    first client port: servers listen on PORT, PORT+1, PORT+2, their routes
#                         on PORT+100.., monitoring on PORT+200.. (default 4222)
#   DSPEX_CLUSTER_POOLS   --pool of each node (default general=1)
#   DSPEX_NODE_PASSWORD, DSPEX_WORKER_PASSWORD, DSPEX_CLIENT_PASSWORD, DSPEX_WORKER_SECRET
#                         generated when unset; all written to $DIR/env (mode 600) for clients:
#                         `. $DIR/env; DSPEX_NATS_USER=client DSPEX_NATS_PASSWORD=$DSPEX_CLIENT_PASSWORD
#                         npx dspex status --nats $DSPEX_CLUSTER_URLS`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${DSPEX_CLUSTER_DIR:-/tmp/dspex-cluster}"
PORT="${DSPEX_CLUSTER_PORT:-4222}"
POOLS="${DSPEX_CLUSTER_POOLS:-general=1}"
NATS_SERVER="${DSPEX_NATS_SERVER_BIN:-nats-server}"

say() { printf '[cluster] %s\n' "$*" >&2; }
secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

urls() {
  local out=() i
  for i in 0 1 2; do out+=("nats://127.0.0.1:$((PORT + i))"); done
  (IFS=,; echo "${out[*]}")
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" 2>/dev/null; do
    if ((SECONDS >= end)); then
      say "timed out waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

up() {
  if [[ -e "$DIR/env" ]]; then
    say "$DIR/env exists: run 'scripts/cluster.sh down' first"
    exit 1
  fi
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  local node_pw="${DSPEX_NODE_PASSWORD:-n$(secret)}" worker_pw="${DSPEX_WORKER_PASSWORD:-w$(secret)}"
  local client_pw="${DSPEX_CLIENT_PASSWORD:-c$(secret)}" worker_secret="${DSPEX_WORKER_SECRET:-$(secret)$(secret)}"
  (
    umask 077
    cat >"$DIR/env" <<EOF
DSPEX_CLUSTER_URLS=$(urls)
DSPEX_NODE_PASSWORD=$node_pw
DSPEX_WORKER_PASSWORD=$worker_pw
DSPEX_CLIENT_PASSWORD=$client_pw
DSPEX_WORKER_SECRET=$worker_secret
EOF
  )
  local routes="" i
  for i in 0 1 2; do routes+="${routes:+,}nats-route://127.0.0.1:$((PORT + 100 + i))"; done
  for i in 0 1 2; do
    local name="nats-$((i + 1))"
    mkdir -p "$DIR/$name/jetstream"
    # nats.conf as in docker-compose.yml, its store moved into $DIR (the server refuses a second
    # store_dir from the command line); the flags move the ports to this host's.
    sed "s|\"/data/jetstream\"|\"$DIR/$name/jetstream\"|" "$ROOT/nats.conf" >"$DIR/$name.conf"
    DSPEX_NODE_PASSWORD="$node_pw" DSPEX_WORKER_PASSWORD="$worker_pw" DSPEX_CLIENT_PASSWORD="$client_pw" \
      nohup "$NATS_SERVER" -c "$DIR/$name.conf" --name "$name" --cluster_name dspex-local \
      -a 127.0.0.1 -p $((PORT + i)) -m $((PORT + 200 + i)) \
      --cluster "nats://127.0.0.1:$((PORT + 100 + i))" --routes "$routes" \
      >"$DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
  done
  for i in 0 1 2; do
    # /healthz is ok once JetStream has its meta leader (nodes create their buckets at start).
    wait_for 60 "nats-$((i + 1))" curl -sf "http://127.0.0.1:$((PORT + 200 + i))/healthz" -o /dev/null
  done
  say "nats-1..3 on $(urls)"
  for i in 1 2; do
    local id="node-$i"
    # The compose file's node environment: `node` for the node, `worker` for its workers (handed
    # over on a pipe), the cluster worker secret, all three servers.
    DSPEX_NATS_URL="$(urls)" DSPEX_NATS_USER=node DSPEX_NATS_PASSWORD="$node_pw" \
      DSPEX_WORKER_NATS_USER=worker DSPEX_WORKER_NATS_PASSWORD="$worker_pw" \
      DSPEX_WORKER_SECRET="$worker_secret" DSPEX_NODE_ID="$id" DSPEX_LOG_LEVEL="${DSPEX_LOG_LEVEL:-info}" \
      nohup node "$ROOT/bin/dspex.js" node --pool "$POOLS" >"$DIR/$id.out" 2>"$DIR/$id.log" </dev/null &
    echo $! >"$DIR/$id.pid"
  done
  for i in 1 2; do
    if ! wait_for 300 "node-$i ready" grep -q ' ready on ' "$DIR/node-$i.out"; then
      tail -5 "$DIR/node-$i.log" >&2
      exit 1
    fi
    say "$(cat "$DIR/node-$i.out")"
  done
  say "up: client login in $DIR/env (user client)"
}

stop_pid() { # stop_pid FILE SIGNAL SECONDS
  local file=$1 signal=$2 limit=$3 pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$signal" "$pid" 2>/dev/null || true
    local end=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

down() {
  [[ -d "$DIR" ]] || return 0
  local i
  for i in 1 2; do stop_pid "$DIR/node-$i.pid" TERM 70 & done
  wait
  for i in 1 2 3; do stop_pid "$DIR/nats-$i.pid" TERM 10 & done
  wait
  rm -rf "$DIR"
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: scripts/cluster.sh up|down" >&2
    exit 2
    ;;
esac
