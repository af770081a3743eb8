#!/usr/bin/env bash
# Integration test of the broker's body retention (docs/referrals.md,
# "Where the data is, and for how long"): a recipient that stays offline
# past a short retention. The broker logs PURGED, drops the body, its queue
# entry and its index entry in one transaction, closes the referral as
# purged and tells the sender with a signed notice (also when the sender is
# offline at the time); nothing is delivered when the recipient comes back,
# an answer to the purged referral is refused, and the log verifies.
. "$(dirname "$0")/lib.sh" "$1"
EX=$(cd "$(dirname "$0")/../config/examples" && pwd)

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_org labour labour "Labour Protection Office"

count() { # count DB FOLDER: entries of an LMDB database
  mdb_stat -s "$1" "$2" 2>/dev/null | sed -nE 's/^ *Entries: ([0-9]+).*/\1/p'
}
# 1. broker.ini: the key is written by init with its default; a bad value
#    stops the broker with the file and what is wrong.
check "init writes body_retention = 30d" grep -q '^body_retention = 30d$' "$NET/broker.ini"
sed -i 's/^body_retention = .*/body_retention = 3 weeks/' "$NET/broker.ini"
out=$("$BIN_BROKER" --dir "$NET" --listen tcp://127.0.0.1:0 2>&1)
check "a bad body_retention stops the broker (exit $?)" grep -q "body_retention must be a duration" <<<"$out"
sed -i 's/^body_retention = .*/body_retention = 8s/' "$NET/broker.ini"
it_broker_start
for o in police labour; do it_agent_start $o; done        # msdhs stays offline

# 2. Delivered in time: nothing to purge.
D=$(send police labour referral case-rt-1 "$(it_doc referral police labour)")
check "a referral to a connected recipient is delivered" state_is police "$D" delivered

# 3. The shelter is offline; the sender goes offline too before the purge.
R=$(send police msdhs referral case-rt-2 "$(it_doc referral police msdhs)")
check "the referral to the offline shelter is accepted" state_is police "$R" accepted
check "the broker holds its body (bodies: $(count bodies "$NET/data"))" test "$(count bodies "$NET/data")" = 1
check "... and its retention index entry" test "$(count expiry "$NET/data")" = 1
it_agent_stop police
check "the broker purges it after the retention (PURGED in the log)" wait_for 40 bash -c \
  "'$BIN_AUDIT' export --dir '$NET' --format jsonl | grep '\"kind\":\"PURGED\"' | grep -q 'case-rt-2'"
"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export.jsonl"
python3 - "$T/export.jsonl" "$R" > "$T/purged.txt" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
acc = next(r for r in recs if r["kind"] == "ACCEPTED" and r.get("msg_id") == sys.argv[2])
p = [r for r in recs if r["kind"] == "PURGED"]
print(len(p), p[0]["actor"], p[0]["reason_code"], p[0]["refers_to"] == acc["seq"],
      any(r["kind"] == "DELIVERED" and r.get("msg_id") == sys.argv[2] for r in recs))
PY
check "one PURGED record, by the broker, reason purged (36), naming the ACCEPTED record ($(cat "$T/purged.txt"))" \
  test "$(cat "$T/purged.txt")" = "1 broker 36 True False"
check "no body left at the broker (bodies: $(count bodies "$NET/data"))" test "$(count bodies "$NET/data")" = 0
check "no queue entry left" test "$(count queue "$NET/data")" = 0
check "no retention index entry left" test "$(count expiry "$NET/data")" = 0
check "the purge notice waits for the offline sender" test "$(count notices "$NET/data")" = 1

# 4. The sender comes back: told at its Hello (notice) and by its status query.
it_agent_start police
check "the sender's outbox says purged" wait_for 20 bash -c \
  "'$BIN_AGENT' outbox --dir '$T/police' --json | grep -F '\"msg_id\":\"$R\"' | grep -q '\"state\":\"purged\"'"
check "... with the reason" bash -c "'$BIN_AGENT' outbox --dir '$T/police' | grep '^$R' | grep -q 'purged seq [0-9]*: not delivered within the broker.s retention'"
check "... and reason_name purged in JSON" bash -c "'$BIN_AGENT' outbox --dir '$T/police' --json | grep -F '\"msg_id\":\"$R\"' | grep -q '\"reason_name\":\"purged\"'"
check "nrm-agent wait says purged (exit 3)" bash -c \
  "'$BIN_AGENT' wait --dir '$T/police' --msg '$R' --state delivered --timeout 5 2>&1; [ \$? -eq 3 ]"
check "the sender's case view: the referral is purged" test "$(case_state police case-rt-2 "$R")" = purged
check "the sender's case view holds the broker's purge notice" wait_for 10 bash -c \
  "'$BIN_AGENT' case --dir '$T/police' case-rt-2 --json | grep -q '\"kind\":\"purged\"'"
check "the broker drops the notice once the sender was told" wait_for 10 test "$(count notices "$NET/data")" = 0
check "the sender dropped its own copy of the sealed body" test "$(count outbody "$T/police/data")" = 0

# 5. The shelter comes back: nothing is delivered; answering is refused.
it_agent_start msdhs
L=$(send police msdhs referral case-rt-3 "$(it_doc referral police msdhs)")
check "a new referral reaches the shelter once it is back" state_is msdhs "$L" received
check "the purged referral never reaches it" bash -c \
  "! '$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -q '$R'"
x=$(send msdhs police response case-rt-2 "$EX/response-accept.json" --reply-to "$R")
check "accepting the purged referral -> purged" refused msdhs "$x" purged
x=$(send police msdhs withdrawal case-rt-2 "$EX/withdrawal.json" --reply-to "$R")
check "withdrawing the purged referral -> purged" refused police "$x" purged
check "the delivered referral was never purged" test "$("$BIN_AUDIT" export --dir "$NET" --format jsonl | grep -c '"kind":"PURGED"')" = 1

# 6. The trail outlives the data.
check "the log verifies with the body gone" "$BIN_AUDIT" verify --dir "$NET"
it_done
