# Shared helpers of the integration tests: real nrm-broker and nrm-agent
# processes on 127.0.0.1 with ephemeral ports, in a temporary folder that is
# removed on success and kept (with every log) on failure.
#
# Usage: . lib.sh BUILD_DIR   (then it_setup, it_org ..., it_broker_start)
set -u

BUILD=${1:?build folder}
BIN_ADMIN=$BUILD/tools/nrm-admin
BIN_AUDIT=$BUILD/tools/nrm-audit
BIN_BROKER=$BUILD/broker/nrm-broker
BIN_AGENT=$BUILD/agents/nrm-agent
BIN_TESTCLIENT=$BUILD/tests/nrm-testclient
T=$(mktemp -d "${NRM_IT_TMPDIR:-/tmp}/nrm-it-XXXXXX")
NET=$T/net
PIDS=""
BROKER_PID=""
declare -A AGENT_PID
FAILED=0
CHECKS=0

it_cleanup() {
  # Only the test's own shell cleans up: a background child killed before
  # it has exec'd its program would otherwise run this trap too.
  [ "$BASHPID" = "$$" ] || return 0
  for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  if [ "$FAILED" -eq 0 ] && [ -z "${IT_KEEP:-}" ]; then rm -rf "$T"; else echo "logs and data kept in $T"; fi
}
trap it_cleanup EXIT

fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
ok()   { CHECKS=$((CHECKS + 1)); echo "ok: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
it_done() {
  echo "$((CHECKS)) passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# Waits until a command succeeds (every 50 ms) or SECONDS pass.
wait_for() {
  local secs=$1; shift
  local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
  while [ "$(( $(date +%s%N) / 1000000 ))" -lt "$end" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  return 1
}

it_setup() {
  "$BIN_ADMIN" init --dir "$NET" --listen tcp://127.0.0.1:0 > "$T/init.log" 2>&1 \
    || { cat "$T/init.log"; fail "nrm-admin init"; exit 1; }
}

# it_org ID TYPE NAME: keygen in $T/ID and enrollment.
it_org() {
  local id=$1 type=$2 name=$3
  "$BIN_AGENT" keygen --dir "$T/$id" --id "$id" --type "$type" --name "$name" > "$T/$id.keygen.log" 2>&1 \
    || { cat "$T/$id.keygen.log"; fail "keygen $id"; exit 1; }
  "$BIN_ADMIN" enroll --dir "$NET" "$T/$id/request.nrm" > "$T/$id.enroll.log" 2>&1 \
    || { cat "$T/$id.enroll.log"; fail "enroll $id"; exit 1; }
  cp "$NET/enrolled/$id.connect.ini" "$T/$id/connect.ini"
}

it_broker_start() {
  rm -f "$NET/broker.endpoint"
  "$BIN_BROKER" --dir "$NET" --listen "${ENDPOINT:-tcp://127.0.0.1:0}" "$@" >> "$T/broker.log" 2>&1 &
  BROKER_PID=$!
  PIDS="$PIDS $BROKER_PID"
  wait_for 10 test -s "$NET/broker.endpoint" || { fail "broker did not start"; cat "$T/broker.log"; exit 1; }
  # Keep the port across restarts so agents reconnect to the same place.
  ENDPOINT=$(cat "$NET/broker.endpoint")
}

it_broker_stop() { # SIGTERM, or it_broker_stop KILL
  kill -"${1:-TERM}" "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
}

it_agent_start() { # it_agent_start ID [env assignments...]
  local id=$1; shift
  env "$@" "$BIN_AGENT" run --dir "$T/$id" --endpoint "$ENDPOINT" >> "$T/$id.agent.log" 2>&1 &
  AGENT_PID[$id]=$!
  PIDS="$PIDS ${AGENT_PID[$id]}"
}

it_agent_stop() { # it_agent_stop ID [SIGNAL]
  kill -"${2:-TERM}" "${AGENT_PID[$1]}" 2>/dev/null || true
  wait "${AGENT_PID[$1]}" 2>/dev/null || true
}

# Sends and prints the message id. it_send FROM TO TYPE CASE [FILE] [extra args]
it_send() {
  local from=$1 to=$2 type=$3 case=$4 file=${5:-}
  shift 4; [ $# -gt 0 ] && shift
  local args=(send --dir "$T/$from" --to "$to" --type "$type" --case "$case")
  [ -n "$file" ] && args+=(--file "$file")
  "$BIN_AGENT" "${args[@]}" "$@"
}


# it_all_state ORG STATE TIMEOUT MSGID...: true when every message reaches
# the state (each within TIMEOUT seconds); names the first that does not.
it_all_state() {
  local org=$1 st=$2 to=$3 x; shift 3
  for x in "$@"; do state_is "$org" "$x" "$st" "$to" || { echo "not $st: $x"; return 1; }; done
}

# it_doc TYPE FROM TO: prints the path of a valid document of TYPE for a
# handoff FROM -> TO (docs/referrals.md), for tests about something else:
# the shelter referral (personal data, consent to share with msdhs), the
# tip (consent to share with police and msdhs), or a referral without
# personal data for any other pair.
it_doc() {
  local ex
  ex=$(cd "$(dirname "${BASH_SOURCE[0]}")/../config/examples" && pwd)
  case "$1:$3" in
    referral:msdhs) echo "$ex/referral-police-msdhs-shelter.json" ;;
    tip:police|tip:msdhs) echo "$ex/tip-ngo-police.json" ;;
    referral:*) printf '{"request":{"ext_Service":"test"}}' > "$T/doc-referral.json"; echo "$T/doc-referral.json" ;;
    *) echo "it_doc: no test document for a $1 to $3" >&2; return 1 ;;
  esac
}

# Lifecycle helpers (it_lifecycle, it_retention).
# send FROM TO TYPE CASE FILE [args]: sends, retrying while the sender's
# directory is still empty (it comes with the Welcome); prints the id.
send() {
  local out i
  for i in $(seq 1 100); do
    if out=$(it_send "$@" 2>>"$T/send.err"); then echo "$out" | grep -oE '[0-9a-f]{32}' | head -1; return 0; fi
    sleep 0.1
  done
  return 1
}
state_is() { "$BIN_AGENT" wait --dir "$T/$1" --msg "$2" --state "$3" --timeout "${4:-20}" >/dev/null 2>&1; }
# refused ORG MSGID REASON: the broker refused it with that reason
refused() {
  "$BIN_AGENT" wait --dir "$T/$1" --msg "$2" --state accepted --timeout 20 >/dev/null 2>&1
  [ $? -eq 3 ] && "$BIN_AGENT" outbox --dir "$T/$1" --json | grep -F "\"msg_id\":\"$2\"" | grep -q "\"reason_name\":\"$3\""
}
case_state() { # case_state ORG CASE MSGID: the referral's state in ORG's case view
  "$BIN_AGENT" case --dir "$T/$1" "$2" --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
print(next((r["state"] for r in d["referrals"] if r["msg_id"]==sys.argv[1]), "?"))' "$3"
}
