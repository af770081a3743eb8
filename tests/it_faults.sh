#!/usr/bin/env bash
# Integration test of faults: a stuck recipient does not hold up anyone
# else; a frozen broker is detected by heartbeats and a dead one survived
# by store and forward; a second agent with the same identity is refused
# while the first lives, and takes over once the first is gone.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_org labour labour "Labour Protection Office"
it_broker_start
for o in police msdhs labour; do it_agent_start $o; done
count_in() { "$BIN_AGENT" inbox --dir "$T/$1" --json | grep -c "$2"; }
printf '{"request":{"ext_Service":"%s"}}' "$(head -c 8000 /dev/zero | tr '\0' x)" > "$T/big.json"
printf '{"request":{"ext_Service":"faults"}}' > "$T/small.json"
printf '{"cas_OutgoingReferralDetails":"faults"}' > "$T/tip.json"
w=$(send police labour referral case-warmup "$T/small.json")
check "warm-up delivered" state_is police "$w" delivered

# 1. A stuck recipient (stopped: reads nothing, answers no heartbeat) gets
#    more than its delivery window; another recipient is served meanwhile.
kill -STOP "${AGENT_PID[labour]}"
stuck=()
for i in $(seq 1 200); do stuck+=("$(send police labour referral case-stuck "$T/big.json")"); done
check "200 messages to the stuck recipient accepted" state_is police "${stuck[199]}" accepted 60
t0=$(date +%s%N)
fine=()
for i in $(seq 1 20); do fine+=("$(send police msdhs referral case-fine "$T/small.json")"); done
all=1
for x in "${fine[@]}"; do state_is police "$x" delivered 20 || all=0; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "20 messages to a healthy recipient delivered in ${ms} ms while one is stuck" test $all -eq 1 -a $ms -lt 15000
kill -CONT "${AGENT_PID[labour]}"
check "the stuck recipient, resumed, receives all 200" it_all_state police delivered 60 "${stuck[@]}"
dup=$("$BIN_AGENT" inbox --dir "$T/labour" --json | grep -o '"msg_id":"[0-9a-f]*"' | sort | uniq -d | wc -l)
check "each of them once ($dup duplicates)" test "$dup" -eq 0

# 2. A frozen broker (stopped: the TCP connection stays up, nothing
#    answers): the agents see a dead peer by heartbeats, keep accepting
#    messages, and deliver them once the broker runs again.
before=$(grep -c "disconnected from the broker" "$T/police.agent.log")
kill -STOP "$BROKER_PID"
frozen=()
for i in 1 2 3; do frozen+=("$(send police msdhs referral case-frozen "$T/small.json")"); done
check "sends accepted locally while the broker is frozen" test ${#frozen[@]} -eq 3 -a -n "${frozen[2]}"
sleep 8
after=$(grep -c "disconnected from the broker" "$T/police.agent.log")
check "the agent detected the dead peer by heartbeats ($before -> $after disconnects)" test "$after" -gt "$before"
kill -CONT "$BROKER_PID"
for x in "${frozen[@]}"; do check "after the freeze, $x delivered" state_is police "$x" delivered 60; done

# 3. A broker that is gone for a while: messages wait in the outbox, the
#    agents reconnect (backoff with jitter) when it is back.
it_broker_stop KILL
down=()
for i in 1 2 3; do down+=("$(send police labour referral case-down "$T/small.json")"); done
sleep 6
check "still queued while the broker is down" bash -c "'$BIN_AGENT' outbox --dir '$T/police' | grep -F '${down[0]:0:8}' | grep -q queued"
it_broker_start
for x in "${down[@]}"; do check "after the outage, $x delivered" state_is police "$x" delivered 60; done

# 4. Two agents with one identity: the second (a copy of police's keys in
#    another folder) is refused while the first is connected; the first
#    keeps working; when the first dies, the second takes over.
mkdir -p "$T/police2"
cp "$T/police/org.ini" "$T/police/secret.keys" "$T/police/connect.ini" "$T/police2/"
it_agent_start police2
check "the second agent is refused with identity-in-use" \
  wait_for 15 grep -q "identity-in-use" "$T/police2.agent.log"
first=()
for i in 1 2 3; do first+=("$(send msdhs police tip case-identity "$T/tip.json")"); done
for x in "${first[@]}"; do check "the first agent still receives: $x" state_is msdhs "$x" delivered 30; done
check "the first agent holds them" test "$(count_in police case-identity)" -eq 3
check "the second holds none" test "$(count_in police2 case-identity)" -eq 0
it_agent_stop police KILL
check "after the first dies, the second is welcomed" \
  wait_for 90 grep -q "welcome from the broker" "$T/police2.agent.log"
second=$(send msdhs police tip case-takeover "$T/tip.json")
check "the second agent now receives" state_is msdhs "$second" delivered 30
check "in the second agent's inbox" test "$(count_in police2 case-takeover)" -eq 1
check "the log verifies" "$BIN_AUDIT" verify --dir "$NET"
it_done
