#!/usr/bin/env bash
# Integration test: the path of one handoff with real processes on loopback,
# store and forward, restarts, redelivery, sealing and group commit.
. "$(dirname "$0")/lib.sh" "$1"
EX=$(cd "$(dirname "$0")/../config/examples" && pwd)

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_org labour labour "Labour Protection Office"
it_broker_start
for o in police msdhs labour; do it_agent_start $o; done

# 1. One handoff: accepted, delivered, in the recipient's inbox, opened.
MARK="NRM-PLAINTEXT-MARKER-$RANDOM$RANDOM"
printf '{"request":{"ext_Service":"shelter"},"person":{"prs_FirstName":"%s"},"consent":{"con_Consent":true,"ext_ConsentToServices":true,"ext_ConsentToSharing":["msdhs"]}}' "$MARK" > "$T/doc.json"
id=$(send police msdhs referral case-it-1 "$T/doc.json")
check "send returns a message id" test -n "$id"
check "sender sees it delivered" state_is police "$id" delivered
check "recipient has it" state_is msdhs "$id" received
check "recipient opens the sealed body" bash -c "'$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -q '$MARK'"

# 2. ZAP: a CURVE key that is not enrolled cannot connect.
check "unenrolled key refused by ZAP" bash -c \
  "'$BIN_TESTCLIENT' --stranger --net '$NET' --endpoint '$ENDPOINT' | grep -q '^stranger refused$'"

# 3. Store and forward: an offline recipient gets its messages, in order.
it_agent_stop labour
ids=()
for n in 1 2 3 4 5; do
  printf '{"request":{"ext_Service":"n%d"}}' "$n" > "$T/n$n.json"
  printf '{"cas_OutgoingReferralDetails":"n%d"}' "$n" > "$T/tip$n.json"
  printf '{"ext_Milestone":"shelter_admission","ext_Note":"n%d"}' "$n" > "$T/status$n.json"
  ids+=("$(send police labour referral case-it-order "$T/n$n.json")")
done
check "queued messages accepted while recipient is offline" state_is police "${ids[4]}" accepted
it_agent_start labour
check "offline recipient receives after connecting" state_is labour "${ids[4]}" received
got=$("$BIN_AGENT" inbox --dir "$T/labour" --json | python3 -c '
import json,sys
items=[json.loads(l) for l in sys.stdin if l.strip()]
print(" ".join(i["msg_id"] for i in items if i["case"]=="case-it-order"))')
check "delivered in the order sent" test "$got" = "${ids[*]}"

# 4. A broker killed with SIGKILL loses nothing.
it_agent_stop msdhs
r=()
for n in 1 2 3; do r+=("$(send police msdhs referral case-it-crash "$T/n$n.json")"); done
check "accepted before the crash" state_is police "${r[2]}" accepted
it_broker_stop KILL
it_broker_start
it_agent_start msdhs
for x in "${r[@]}"; do check "after broker SIGKILL, $x delivered" state_is police "$x" delivered; done

# 5. Redelivery: a recipient whose acknowledgements were lost gets the
#    message again, acknowledges again, and keeps it once.
it_agent_stop msdhs
it_agent_start msdhs NRM_TEST_DROP_ACKS=1
d=$(send police msdhs referral case-it-redeliver "$T/n1.json")
check "stored without acknowledging" state_is msdhs "$d" received
check "not yet delivered at the broker" bash -c "! '$BIN_AGENT' wait --dir '$T/police' --msg '$d' --state delivered --timeout 1 >/dev/null 2>&1"
it_agent_stop msdhs
it_agent_start msdhs
check "redelivered and acknowledged" state_is police "$d" delivered
count=$("$BIN_AGENT" inbox --dir "$T/msdhs" --json | grep -o "$d" | wc -l)
check "redelivered message appears once in the inbox" test "$count" -eq 1

# 6. send works while the agent daemon is down; it goes out on restart.
it_agent_stop police
q=$(send police msdhs tip case-it-offline-sender "$T/tip2.json")
check "send acknowledged with the daemon down" test -n "$q"
it_agent_start police
check "queued while down, delivered after restart" state_is police "$q" delivered

# 7. Group commit: a burst of messages shares fsyncs.
it_broker_stop TERM
for n in $(seq 1 200); do send police labour status case-it-burst "$T/status1.json" > "$T/last.id"; done
it_broker_start
check "burst delivered" state_is police "$(cat "$T/last.id")" delivered 60
it_broker_stop TERM
line=$(grep 'stopping:' "$T/broker.log" | tail -1)
frames=$(echo "$line" | sed -E 's/.*: ([0-9]+) frames in ([0-9]+) batches.*/\1/')
batches=$(echo "$line" | sed -E 's/.*: ([0-9]+) frames in ([0-9]+) batches.*/\2/')
echo "group commit: $line"
check "many frames share one commit ($frames frames, $batches batches)" test "$((batches * 3))" -lt "$frames"
# 7b. At info level, no line per message: a summary of the burst instead.
check "no line per accepted message at info level" bash -c "! grep -q -E 'accepted [a-z]+ police -> labour, record' '$T/broker.log'"
check "a summary line counts the burst" grep -q -E 'last [0-9]+ s: (2[0-9][0-9]|[3-9][0-9][0-9]) messages accepted' "$T/broker.log"
it_broker_start
# 7c. The agents too: a line per message at debug only, and their
#     summaries (every 10 s with traffic, and at the end) count every one.
check "labour has the burst" state_is labour "$(cat "$T/last.id")" received
it_agent_stop police
it_agent_stop labour
summed() { grep -o -E "$2" "$T/$1.agent.log" | awk '{ s += $1 } END { print s + 0 }'; }
delivered=$("$BIN_AGENT" outbox --dir "$T/police" | grep -c 'delivered seq')
received=$("$BIN_AGENT" inbox --dir "$T/labour" --json | grep -c .)
check "no line per received message at info level" bash -c "! grep -q 'received msg' '$T/labour.agent.log'"
check "no line per delivered message at info level" bash -c "! grep -q -E 'msg [0-9a-f]+ delivered seq' '$T/police.agent.log'"
check "the sender's summaries count its $delivered deliveries" \
  test "$(summed police '[0-9]+ delivered; ')" = "$delivered"
check "the recipient's summaries count its $received messages" \
  test "$(summed labour '[0-9]+ messages received')" = "$received"
it_agent_start police
it_agent_start labour

# 8. No victim data in clear at the broker: not in its folder, not in its log.
check "marker string absent from the broker's folder" bash -c "! grep -r -a -q '$MARK' '$NET'"
check "marker string absent from the broker's log" bash -c "! grep -a -q '$MARK' '$T/broker.log'"
check "marker string readable at the recipient (control)" bash -c "'$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -q '$MARK'"

# 9. The audit log verifies, on the live folder and on a copy.
check "audit log verifies" "$BIN_AUDIT" verify --dir "$NET"
cp -r "$NET" "$T/netcopy"
check "a copy verifies" "$BIN_AUDIT" verify --dir "$T/netcopy"
check "case timeline shows the handoff" bash -c "'$BIN_AUDIT' case --dir '$NET' case-it-1 | grep -q DELIVERED"
records=$("$BIN_AUDIT" export --dir "$NET" --format jsonl | wc -l)
check "export has one line per record ($records)" test "$records" -gt 230
it_done
