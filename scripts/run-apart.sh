#!/usr/bin/env bash
# Runs the system apart on this machine: each of the seven modules in its own process, a gateway on
# http://localhost:5080 as the one public URL, events over RabbitMQ, module API requests over HTTP
# (through the gateway), one PostgreSQL database (the gateway's embedded cluster, or
# ConnectionStrings__Oms when set). The same binary as the monolith; only the arguments differ.
#
#   scripts/run-apart.sh [--seed-demo]   # Ctrl+C (or TERM) stops every process it started
#
# RabbitMQ: OMS_RABBITMQ_URI when set, else a private node of the rabbitmq-server package
# (scripts/prerequisites.sh installs it) on 127.0.0.1:5673, run as the rabbitmq user when root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${OMS_APART_DIR:-$ROOT/.oms/apart}
GATEWAY_PORT=${OMS_GATEWAY_PORT:-5080}
FIRST_SERVICE_PORT=${OMS_FIRST_SERVICE_PORT:-5181}
MODULES=(Orders Inventory Payments Pricing Fulfillment Notifications Returns)
mkdir -p "$STATE/logs"

echo "Building the Host (Release)..."
dotnet build -c Release "$ROOT/Host" -v q -nologo >/dev/null
DLL="$ROOT/Host/bin/Release/net10.0/OmsModular.Host.dll"

SERVICE_PIDS=() # the modules' processes: stopped first
GATEWAY_PID=""  # it owns the embedded PostgreSQL cluster: stopped after them
RABBIT_PID=""
RABBIT_NODE=""
stop_group() { for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done; for pid in "$@"; do wait "$pid" 2>/dev/null || true; done; }
stop_all() {
  trap - EXIT INT TERM
  echo "Stopping..."
  stop_group "${SERVICE_PIDS[@]}"
  [ -n "$GATEWAY_PID" ] && stop_group "$GATEWAY_PID"
  if [ -n "$RABBIT_NODE" ]; then
    for p in $(pgrep -x beam.smp); do
      grep -qz "^RABBITMQ_NODENAME=$RABBIT_NODE\$" "/proc/$p/environ" 2>/dev/null && kill -TERM "$p"
    done
    [ -n "$RABBIT_PID" ] && wait "$RABBIT_PID" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

wait_for() { # url, what
  for _ in $(seq 1 300); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.5
  done
  echo "$2 did not become ready; see $STATE/logs" >&2
  exit 1
}

# --- RabbitMQ -------------------------------------------------------------------------------
if [ -n "${OMS_RABBITMQ_URI:-}" ]; then
  RABBIT_URI=$OMS_RABBITMQ_URI
else
  RABBIT_PORT=5673
  RABBIT_NODE="oms-apart-$(id -u)@localhost"
  RABBIT_DIR=$(mktemp -d /tmp/oms-apart-rabbitmq.XXXXXX) # fresh and private; reachable by the rabbitmq user wherever the clone is
  chmod 755 "$RABBIT_DIR"
  mkdir -p "$RABBIT_DIR/log"
  cat >"$RABBIT_DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBIT_PORT
loopback_users = none
EOF
  echo "[]." >"$RABBIT_DIR/enabled_plugins"
  RUN=()
  if [ "$(id -u)" -eq 0 ]; then chown -R rabbitmq: "$RABBIT_DIR"; RUN=(runuser -u rabbitmq --); fi
  echo "Starting RabbitMQ on 127.0.0.1:$RABBIT_PORT (node $RABBIT_NODE, data in $RABBIT_DIR)..."
  env HOME="$RABBIT_DIR" RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$RABBIT_PORT RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) \
    RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log" RABBITMQ_PID_FILE="$RABBIT_DIR/rabbitmq.pid" \
    ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "${RUN[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$STATE/logs/rabbitmq.log" 2>&1 &
  RABBIT_PID=$!
  for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/$RABBIT_PORT) 2>/dev/null && break; sleep 0.5; done
  RABBIT_URI="amqp://guest:guest@127.0.0.1:$RABBIT_PORT/"
fi

# --- the gateway (and the embedded PostgreSQL cluster) --------------------------------------
port_of() { echo $((FIRST_SERVICE_PORT + $1)); }
REMOTES=()
for i in "${!MODULES[@]}"; do REMOTES+=("--Oms:Remote:${MODULES[$i]}" "http://127.0.0.1:$(port_of "$i")"); done
DATABASE=()
if [ -n "${ConnectionStrings__Oms:-}" ]; then DATABASE=(--connection-string "$ConnectionStrings__Oms"); else DATABASE=(--data-dir "$STATE/postgres"); fi
echo "Starting the gateway on http://localhost:$GATEWAY_PORT..."
dotnet "$DLL" "${DATABASE[@]}" --modules none --Oms:Gateway:Enabled true "${REMOTES[@]}" \
  --urls "http://localhost:$GATEWAY_PORT" >"$STATE/logs/gateway.log" 2>&1 &
GATEWAY_PID=$!
wait_for "http://localhost:$GATEWAY_PORT/health/live" "The gateway"

if [ -z "${ConnectionStrings__Oms:-}" ]; then
  CLUSTER="$STATE/postgres"
  if [ -f "$CLUSTER/cluster-location" ]; then CLUSTER=$(sed -n 's/.*lives in \(.*\): .*/\1/p' "$CLUSTER/cluster-location"); fi
  for _ in $(seq 1 120); do [ -f "$CLUSTER/data/postmaster.pid" ] && break; sleep 0.5; done
  CONNECTION="Host=127.0.0.1;Port=$(sed -n 4p "$CLUSTER/data/postmaster.pid");Username=oms;Password=$(cat "$CLUSTER/password");Database=oms"
else
  CONNECTION=$ConnectionStrings__Oms
fi

# Every module's migrations once, before the services start (they would otherwise take turns at start-up).
ConnectionStrings__Oms="$CONNECTION" dotnet "$DLL" migrate >"$STATE/logs/migrate.log" 2>&1
if [ "${1:-}" = "--seed-demo" ]; then
  echo "Loading the demo data..."
  ConnectionStrings__Oms="$CONNECTION" dotnet "$DLL" seed-demo >"$STATE/logs/seed-demo.log" 2>&1
fi

# The services' credential towards each other: a key with modules:call only, created once per database.
SERVICE_KEY_FILE="$STATE/service-key-$(printf '%s' "$CONNECTION" | sha256sum | cut -c1-12)"
if [ ! -s "$SERVICE_KEY_FILE" ]; then
  (umask 077; ConnectionStrings__Oms="$CONNECTION" dotnet "$DLL" keys create --name services --scopes modules:call | grep '^oms_' >"$SERVICE_KEY_FILE")
fi

# --- one process per module -----------------------------------------------------------------
for i in "${!MODULES[@]}"; do
  module=${MODULES[$i]}
  # Secrets go by environment, not on the command line (where any local user could read them).
  ConnectionStrings__Oms="$CONNECTION" Oms__Remote__ApiKey="$(cat "$SERVICE_KEY_FILE")" dotnet "$DLL" --modules "$module" \
    --Oms:Messaging:Transport RabbitMq --Oms:Messaging:RabbitMq:Uri "$RABBIT_URI" \
    --Oms:Remote:Gateway "http://127.0.0.1:$GATEWAY_PORT" \
    --urls "http://127.0.0.1:$(port_of "$i")" >"$STATE/logs/$module.log" 2>&1 &
  SERVICE_PIDS+=($!)
done
for i in "${!MODULES[@]}"; do wait_for "http://127.0.0.1:$(port_of "$i")/health/ready" "${MODULES[$i]}"; done
wait_for "http://localhost:$GATEWAY_PORT/health/ready" "The gateway"

echo
echo "Running apart: gateway http://localhost:$GATEWAY_PORT, services on ports $(port_of 0)-$(port_of $((${#MODULES[@]} - 1))), logs in $STATE/logs."
[ -f "$STATE/postgres/admin-key" ] && echo "Admin key: $STATE/postgres/admin-key (export OMS_KEY=\$(cat $STATE/postgres/admin-key))"
echo "Ctrl+C stops everything."
wait "${SERVICE_PIDS[@]}" "$GATEWAY_PID"
