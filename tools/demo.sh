#!/usr/bin/env bash
# nrmbus demo: one case handed between five organisations over a real broker.
#
#   tools/demo.sh BUILD_DIR        (what `make demo` runs)
#
# Makes a fresh network in a temporary folder, enrolls police, msdhs, labour,
# prosecutor and an NGO, starts the broker and five agents on 127.0.0.1, plays
# a case (a tip, three referrals, four answers), then prints the case
# timeline from the audit log and verifies the whole log. Exit 0 only if
# every handoff arrived and the log verifies. On failure nothing is removed:
# the folder with every log is printed. NRM_DEMO_KEEP=1 keeps it on success.
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXAMPLES="$ROOT/config/examples"
ADMIN="$BUILD/tools/nrm-admin"
AUDIT="$BUILD/tools/nrm-audit"
AGENT="$BUILD/agents/nrm-agent"
BROKER="$BUILD/broker/nrm-broker"
ORGS=(police msdhs labour prosecutor ngo)

for exe in "$ADMIN" "$AUDIT" "$AGENT" "$BROKER"; do
  if [[ ! -x $exe ]]; then
    echo "demo: $exe is missing; build first (make build)" >&2
    exit 2
  fi
done
for doc in tip-ngo-police referral-police-msdhs-shelter referral-police-labour-wages \
           referral-police-prosecutor-casefile response-accept outcome-completed; do
  if [[ ! -r $EXAMPLES/$doc.json ]]; then
    echo "demo: $EXAMPLES/$doc.json is missing" >&2
    exit 2
  fi
done
command -v python3 >/dev/null || { echo "demo: python3 is needed" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/nrmbus-demo.XXXXXX")
NET="$W/net"
LOGS="$W/logs"
mkdir -p "$LOGS"
PIDS=()
SUCCEEDED=0

# Stops every process this script started: TERM, a few seconds' grace, then
# KILL; waits for each. Keeps the folder unless the demo succeeded.
cleanup() {
  local pid alive
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $SUCCEEDED == 1 && ${NRM_DEMO_KEEP:-0} != 1 ]]; then
    rm -rf "$W"
  elif [[ $SUCCEEDED == 1 ]]; then
    echo "demo: folders and logs kept in $W"
  else
    echo "demo FAILED: folders and logs kept in $W (logs in $LOGS)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "demo: $*" >&2
  exit 1
}

now() { date +%H:%M:%S; }

# Fails at once, naming its log, if the broker or an agent has exited.
declare -A PID_OF=()
check_alive() {
  local name
  for name in "${!PID_OF[@]}"; do
    kill -0 "${PID_OF[$name]}" 2>/dev/null \
      || fail "$name exited (see $LOGS/$name.log: $(tail -n 1 "$LOGS/$name.log" 2>/dev/null))"
  done
}

# The seq of the ACCEPTED record of message $1, from the audit log (read-only,
# while the broker runs).
accepted_seq() {
  "$AUDIT" case --dir "$NET" "$CASE" --json 2>>"$LOGS/audit.err" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(next((r["seq"] for r in rows if r["kind"] == "ACCEPTED" and r["msg_id"] == sys.argv[1]), "?"))
' "$1"
}

# handoff FROM TO TYPE DOC PRIORITY [REPLY_TO]: sends, waits until the sender
# sees it delivered and the recipient has it in its inbox, prints one line.
# PURPOSE=name before it sets --purpose (the policy's minimisation rule).
# The message id lands in LAST_ID.
LAST_ID=""
handoff() {
  local from=$1 to=$2 type=$3 doc=$4 prio=$5 reply=${6:-}
  local args=(send --dir "$W/$from" --to "$to" --type "$type" --case "$CASE"
              --file "$EXAMPLES/$doc.json" --priority "$prio")
  [[ -n $reply ]] && args+=(--reply-to "$reply")
  [[ -n ${PURPOSE:-} ]] && args+=(--purpose "$PURPOSE")
  local out="" id="" _
  # The sender's directory comes with the broker's Welcome: until its agent
  # has connected, send may not know the recipient yet. Nothing is queued
  # when send fails, so trying again is safe.
  for _ in $(seq 1 50); do
    if out=$("$AGENT" "${args[@]}" 2>>"$LOGS/send.err"); then
      id=$(grep -oE '[0-9a-f]{32}' <<<"$out" | head -n 1 || true)
      break
    fi
    check_alive
    sleep 0.2
  done
  [[ -n $id ]] || fail "$from could not send the $type to $to (see $LOGS/send.err)"
  "$AGENT" wait --dir "$W/$from" --msg "$id" --state delivered --timeout 20 \
    >>"$LOGS/wait.log" 2>&1 || fail "$type $from -> $to (msg $id) was not delivered (see $LOGS)"
  "$AGENT" wait --dir "$W/$to" --msg "$id" --state received --timeout 20 \
    >>"$LOGS/wait.log" 2>&1 || fail "$type $from -> $to (msg $id) is not in $to's inbox (see $LOGS)"
  printf '[%s] %-10s -> %-10s  %-8s  msg %s  accepted seq %s, delivered\n' \
    "$(now)" "$from" "$to" "$type" "${id:0:8}" "$(accepted_seq "$id")"
  if [[ -n ${PURPOSE:-} ]]; then
    # what minimisation removed for this recipient (field names only)
    grep -h "removed for $to " "$LOGS/send.err" | tail -n 1 | sed 's/^nrm-agent send: /           /' || true
  fi
  LAST_ID=$id
}

echo "== nrmbus demo in $W"

# 1. The network: administrator and broker keys, genesis in the audit log.
"$ADMIN" init --dir "$NET" --network demo --listen tcp://127.0.0.1:0 >"$LOGS/admin.log"

# 2. Each organisation makes its own keys on its own machine.
keygen() {
  "$AGENT" keygen --dir "$W/$1" --id "$1" --type "$2" --name "$3" --jurisdiction "$4" \
    >>"$LOGS/keygen.log" 2>&1 || fail "keygen of $1 failed (see $LOGS/keygen.log)"
}
keygen police     police     "Royal Thai Police Anti-Trafficking Division" "Thailand"
keygen msdhs      msdhs      "MSDHS Anti-Trafficking Division" "Thailand"
keygen labour     labour     "Department of Labour Protection and Welfare" "Thailand"
keygen prosecutor prosecutor "Office of the Attorney General, Trafficking in Persons Cases" "Thailand"
keygen ngo        ngo        "Hands Across the Moei Foundation" "Tak province"

# The network's policy (routing, deadlines, escalation, minimisation) is in
# force at the broker since `nrm-admin init`; each agent reads its copy
# ORG/policy.ini (deadlines it sets, fields it removes for a recipient).
for org in "${ORGS[@]}"; do cp "$ROOT/config/policy.ini" "$W/$org/policy.ini"; done

# 3. The broker, on an ephemeral port it reports in NET/broker.endpoint.
"$BROKER" --dir "$NET" >"$LOGS/broker.log" 2>&1 &
PIDS+=($!)
PID_OF[broker]=$!
for _ in $(seq 1 100); do
  [[ -s $NET/broker.endpoint ]] && break
  check_alive
  sleep 0.1
done
[[ -s $NET/broker.endpoint ]] || fail "the broker did not report its endpoint (see $LOGS/broker.log)"
EP=$(head -n 1 "$NET/broker.endpoint")
echo "broker listening on $EP"

# 4. Enrollment while the broker runs; each organisation gets its connect file.
for org in "${ORGS[@]}"; do
  "$ADMIN" enroll --dir "$NET" "$W/$org/request.nrm" --endpoint "$EP" >>"$LOGS/admin.log" 2>&1 \
    || fail "enrollment of $org failed (see $LOGS/admin.log)"
  cp "$NET/enrolled/$org.connect.ini" "$W/$org/connect.ini"
done
echo "enrolled: ${ORGS[*]}"

# 5. One agent per organisation.
for org in "${ORGS[@]}"; do
  "$AGENT" run --dir "$W/$org" --endpoint "$EP" >"$LOGS/agent-$org.log" 2>&1 &
  PIDS+=($!)
  PID_OF[agent-$org]=$!
done

# 6. The case: a pseudonymous reference, never derived from identity.
CASE="case-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
echo "case $CASE: a 17-year-old from Myanmar out of an online scam compound"
echo

handoff ngo    police     tip      tip-ngo-police                       3
TIP=$LAST_ID
handoff police msdhs      referral referral-police-msdhs-shelter        3
SHELTER=$LAST_ID
PURPOSE=wage-claim \
handoff police labour     referral referral-police-labour-wages         2
WAGES=$LAST_ID
handoff police prosecutor referral referral-police-prosecutor-casefile  2
CASEFILE=$LAST_ID
handoff police     ngo    response response-accept 2 "$TIP"
handoff msdhs      police response response-accept 3 "$SHELTER"
handoff labour     police response response-accept 2 "$WAGES"
handoff prosecutor police response response-accept 2 "$CASEFILE"
# The shelter referral completes: msdhs reports the outcome.
handoff msdhs      police outcome  outcome-completed 3 "$SHELTER"

# 7. The police's own view of the case: what it sent and received and the
#    state of each referral, replayed from its own store.
echo
"$AGENT" case --dir "$W/police" "$CASE" || fail "no case view for $CASE"
state=$("$AGENT" case --dir "$W/police" "$CASE" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted(r["state"] for r in d["referrals"] if r["from"] == "police")))')
[[ $state == "accepted accepted completed" ]] || fail "referral states are '$state', expected accepted, accepted, completed"

# 8. What the audit log says about the case, and whether the log holds up.
echo
"$AUDIT" case --dir "$NET" "$CASE" || fail "no timeline for $CASE"
echo
"$AUDIT" verify --dir "$NET" || fail "the audit log did not verify"

SUCCEEDED=1
echo
echo "demo OK: 9 handoffs delivered, the shelter referral completed, audit log verified"
