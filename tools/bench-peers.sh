#!/usr/bin/env bash
# `make bench-peers`: the nrm-bench workload on nrmbus and on the brokers a
# user would pick instead, alternately, in one run, on this machine:
#   rabbitmq-quorum   RabbitMQ durable quorum queue, persistent messages,
#                     publisher confirms, consumer acks
#   rabbitmq-classic  RabbitMQ classic durable queue, the same
#   nats-js           NATS JetStream file stream, acked publishes, explicit
#                     consumer acks (NATS 2.9 does not fsync each message)
# then one table of medians with the ratios of nrmbus against each peer.
#
#   tools/bench-peers.sh BUILD_DIR [OUT_DIR]
#
# Each round runs every system once, in turn; each server is started for
# its run only (fresh data folder, 127.0.0.1, free ports) and stopped by its
# process id, so an idle server never takes CPU from another's run. Knobs
# (environment): NRM_BENCH_ROUNDS (3), NRM_BENCH_PAIRS (4),
# NRM_BENCH_WINDOW (64), NRM_BENCH_MESSAGES (2000, per fixed-load step),
# NRM_BENCH_MAX_MESSAGES (20000), NRM_BENCH_SINGLE (100),
# NRM_BENCH_LOADS (single,100,200,400,max), NRM_BENCH_SYSTEMS (all four).
set -euo pipefail

BUILD=${1:?usage: bench-peers.sh BUILD_DIR [OUT_DIR]}
OUT=${2:-$BUILD/bench-peers}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${NRM_BENCH_ROUNDS:-3}
PAIRS=${NRM_BENCH_PAIRS:-4}
WINDOW=${NRM_BENCH_WINDOW:-64}
MESSAGES=${NRM_BENCH_MESSAGES:-2000}
MAXMSG=${NRM_BENCH_MAX_MESSAGES:-20000}
SINGLE=${NRM_BENCH_SINGLE:-100}
LOADS=${NRM_BENCH_LOADS:-single,100,200,400,max}
SYSTEMS=${NRM_BENCH_SYSTEMS:-nrmbus rabbitmq-quorum rabbitmq-classic nats-js}
BENCH=$BUILD/tools/nrm-bench
PEER=$BUILD/tools/nrm-bench-peer
RABBIT=/usr/lib/rabbitmq/bin/rabbitmq-server
COMMON=(--pairs "$PAIRS" --window "$WINDOW" --messages "$MESSAGES" --max-messages "$MAXMSG"
        --single-messages "$SINGLE" --loads "$LOADS" --out "$OUT")

for exe in "$BENCH" "$PEER" "$RABBIT" /usr/bin/epmd /usr/sbin/nats-server; do
  [[ -x $exe ]] || { echo "bench-peers: $exe is missing (make bench-peers installs and builds it)" >&2; exit 2; }
done
mkdir -p "$OUT"
rm -f "$OUT/nrmbus.csv" "$OUT/peers.csv"
T=$(mktemp -d "${TMPDIR:-/tmp}/nrm-bench-peers.XXXXXX")
PIDS=()

# Stops the servers this script started, by process id: TERM, then KILL.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
cleanup() {
  trap - EXIT INT TERM
  [[ ${#PIDS[@]} -gt 0 ]] && stop_pids "${PIDS[@]}"
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints n free TCP ports on 127.0.0.1.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits until 127.0.0.1:$1 accepts, for at most $2 seconds.
wait_port() {
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Starts epmd and RabbitMQ on 127.0.0.1 only, data in a fresh folder; sets
# SERVER_PID (the Erlang VM), SERVER_PORT and the pids to stop.
start_rabbitmq() {
  local d=$T/rabbitmq.$1 amqp dist epmd_port epmd_pid
  rm -rf "$d"; mkdir -p "$d"
  read -r amqp dist epmd_port <<<"$(free_ports 3)"
  echo "[]." > "$d/enabled_plugins"
  printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$amqp" > "$d/rabbitmq.conf"
  /usr/bin/epmd -address 127.0.0.1 -port "$epmd_port" > "$d/epmd.log" 2>&1 &
  epmd_pid=$!
  # RUNNING_UNDER_SYSTEMD makes the script exec the VM, so $! is its pid.
  env HOME="$d" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd_port" \
    RABBITMQ_NODENAME="nrmbench@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$amqp" RABBITMQ_DIST_PORT="$dist" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_PID_FILE="$d/rabbit.pid" RUNNING_UNDER_SYSTEMD=1 \
    "$RABBIT" > "$d/server.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PORT=$amqp
  STOP=("$SERVER_PID" "$epmd_pid")
  PIDS=("${STOP[@]}")
  wait_port "$amqp" 60 || { echo "bench-peers: RabbitMQ did not start (see $d/server.log)" >&2; tail -20 "$d/server.log" >&2; exit 1; }
}

start_nats() {
  local d=$T/nats.$1 port
  rm -rf "$d"; mkdir -p "$d/js"
  read -r port <<<"$(free_ports 1)"
  printf 'listen: 127.0.0.1:%s\njetstream {\n  store_dir: "%s/js"\n}\n' "$port" "$d" > "$d/nats.conf"
  /usr/sbin/nats-server -c "$d/nats.conf" > "$d/server.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PORT=$port
  STOP=("$SERVER_PID")
  PIDS=("${STOP[@]}")
  wait_port "$port" 20 || { echo "bench-peers: nats-server did not start (see $d/server.log)" >&2; exit 1; }
}

stop_server() {
  stop_pids "${STOP[@]}"
  PIDS=()
}

echo "bench-peers: $ROUNDS rounds of: $SYSTEMS"
echo "  $PAIRS producers and $PAIRS consumers, window $WINDOW, 1 KiB bodies, loads $LOADS"
echo "  (NATS 2.9 JetStream does not fsync each message: it syncs the stream files"
echo "   every 2 minutes by default, so its figures are not for equal durability)"
for round in $(seq 1 "$ROUNDS"); do
  for sys in $SYSTEMS; do
    echo "== round $round: $sys"
    case $sys in
      nrmbus)
        # --send-batch auto: each sender hands over all its free window slots
        # in one send (one outbox commit, one batch signature), as the peers'
        # clients pipeline their publishes up to the window.
        "$BENCH" "${COMMON[@]}" --send-batch auto --round "$round" --no-plot ;;
      rabbitmq-quorum|rabbitmq-classic)
        start_rabbitmq "$round-$sys"
        "$PEER" rabbitmq --queue-type "${sys#rabbitmq-}" --port "$SERVER_PORT" \
          --server-pid "$SERVER_PID" "${COMMON[@]}" --round "$round"
        stop_server ;;
      nats-js)
        start_nats "$round"
        "$PEER" nats --port "$SERVER_PORT" --server-pid "$SERVER_PID" "${COMMON[@]}" --round "$round"
        stop_server ;;
      *) echo "bench-peers: unknown system $sys" >&2; exit 2 ;;
    esac
  done
done

echo
echo "== medians over $ROUNDS rounds (NATS 2.9 does not fsync each message)"
files=()
for f in "$OUT/nrmbus.csv" "$OUT/peers.csv"; do [[ -s $f ]] && files+=("$f"); done
python3 "$ROOT/tools/bench_table.py" "$OUT/table.md" "$OUT/medians.csv" "${files[@]}"
"$BENCH" plot --csv "$OUT/medians.csv" --png "$OUT/peers-latency.png" \
  --title "handoff latency against throughput (medians of $ROUNDS rounds)" || true
echo "results: $OUT (nrmbus.csv, peers.csv, medians.csv, table.md, peers-latency.png)"
