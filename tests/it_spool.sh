#!/usr/bin/env bash
# Hooks and spool folders (docs/operations.md): police's system drops
# referrals into its outgoing spool folder; msdhs's agent writes each one
# into its inbox spool folder and runs a hook command for it. The agents
# are SIGKILLed while a hook runs, while files are being taken, and while
# deliveries arrive; at the end every item is there exactly once: one
# outbox message per outgoing file, one spool file and one successful hook
# run per inbox item. A failing hook is retried with backoff until it
# succeeds, and a bad outgoing file goes to failed/ with its error.
. "$(dirname "$0")/lib.sh" "$1"
EX=$(cd "$(dirname "$0")/../config/examples" && pwd)
POLICY=$(cd "$(dirname "$0")/../config" && pwd)/policy.ini

it_setup
it_org police police "Police"
it_org msdhs msdhs "MSDHS"
cp "$POLICY" "$T/police/policy.ini"
cp "$POLICY" "$T/msdhs/policy.ini"
mkdir -p "$T/taken"
# The organisation's hook: takes the item atomically (copy, rename), then
# logs its id. Test knobs: $T/hook.fail holds how many runs fail first;
# $T/hook.sleep makes it wait before taking.
cat > "$T/hook.sh" <<EOF
#!/bin/sh
id=\$1 file=\$2
touch "$T/started.\$id"
if [ -s "$T/hook.fail" ]; then
  n=\$(cat "$T/hook.fail")
  if [ "\$n" -gt 0 ]; then echo \$((n - 1)) > "$T/hook.fail"; echo "\$id" >> "$T/failed.log"; exit 1; fi
fi
[ -s "$T/hook.sleep" ] && sleep "\$(cat "$T/hook.sleep")"
cp "\$file" "$T/taken/\$id.tmp" && mv "$T/taken/\$id.tmp" "$T/taken/\$id.json" || exit 2
echo "\$id" >> "$T/taken.log"
EOF
chmod +x "$T/hook.sh"
printf '[hooks]\nspool_out = spool/out\n\n[metrics]\nlisten = 127.0.0.1:0\n' > "$T/police/agent.ini"
printf '[hooks]\nspool_in = spool/in\ncommand = %s\nretry_min_ms = 100\nretry_max_ms = 400\ncommand_timeout_s = 20\n\n[log]\nformat = kv\n' \
  "$T/hook.sh" > "$T/msdhs/agent.ini"
it_broker_start
it_agent_start police
it_agent_start msdhs
OUT=$T/police/spool/out
IN=$T/msdhs/spool/in
wait_for 10 test -d "$OUT/processing" || { fail "outgoing spool folders not made"; cat "$T/police.agent.log"; exit 1; }

# drop NAME CASE: the organisation's system writes a request atomically.
drop() {
  python3 - "$EX/referral-police-msdhs-shelter.json" "$2" > "$OUT/.$1.part" <<'EOF'
import json, sys
print(json.dumps({"to": "msdhs", "type": "referral", "case": sys.argv[2],
                  "document": json.load(open(sys.argv[1]))}))
EOF
  mv "$OUT/.$1.part" "$OUT/$1.json"
}
outbox_count() { "$BIN_AGENT" outbox --dir "$T/police" --json | grep -c "\"case\":\"$1\"" || true; }
inbox_ids() { "$BIN_AGENT" inbox --dir "$T/msdhs" --json | python3 -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["msg_id"])' | sort; }
lines_of() { [ -f "$1" ] && sort "$1" || true; }

# ---- one file, the whole way ----
# (the directory fills at the first Welcome: wait for it)
wait_for 10 bash -c "'$BIN_AGENT' send --dir '$T/police' --to msdhs --type referral --case warmup --file '$(it_doc referral police msdhs)' >/dev/null 2>&1"
drop first case-a
check "the outgoing file is taken and sent" wait_for 10 test -f "$OUT/sent/first.json"
check "its result names the message" grep -qE '"msg_id": "[0-9a-f]{32}"' "$OUT/sent/first.json.result.json"
FIRST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msg_id"])' "$OUT/sent/first.json.result.json")
check "the inbox item is written to the spool folder" wait_for 15 test -f "$IN/$FIRST.json"
check "the spool file is the item's JSON with its document" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["msg_id"] == sys.argv[2] and d["from"] == "police" and d["document"]["person"]["prs_Citizenship"] == ["MM"]' "$IN/$FIRST.json" "$FIRST"
check "the hook took it" wait_for 10 grep -q "$FIRST" "$T/taken.log"
check "the item is now taken in the inbox" wait_for 5 bash -c "'$BIN_AGENT' inbox --dir '$T/msdhs' --id $FIRST --json | grep -q '\"state\":\"taken\"'"
check "no temp file is left in the spool folder" bash -c "! ls '$IN' | grep -v '\.json$'"

# ---- a bad outgoing file goes to failed/ with its error ----
printf '{"to": "msdhs", "type": "referral", "case": "c1", "document": {"person": {"prs_Citizenship": ["XX"]}}}' > "$OUT/.bad.part"
mv "$OUT/.bad.part" "$OUT/bad.json"
check "a bad file is moved to failed/" wait_for 10 test -f "$OUT/failed/bad.json"
check "its error names the field" python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert e["field"] == "document.person.prs_Citizenship[0]", e' "$OUT/failed/bad.json.error.json"
printf 'not json' > "$OUT/.junk.part"; mv "$OUT/.junk.part" "$OUT/junk.json"
check "a file that is not JSON is moved to failed/" wait_for 10 test -f "$OUT/failed/junk.json.error.json"
M=$(cat "$T/police/metrics.endpoint")
check "police's metrics count the outgoing spool" bash -c "curl -s '$M' | grep -q '^nrm_agent_outspool_failed_total 2' && curl -s '$M' | grep -q '^nrm_agent_outspool_sent_total 1'"

# ---- a failing hook is retried with backoff, then succeeds ----
echo 3 > "$T/hook.fail"
drop retry case-b
wait_for 10 test -f "$OUT/sent/retry.json.result.json"
RETRY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msg_id"])' "$OUT/sent/retry.json.result.json")
check "the retried item is taken in the end" wait_for 20 grep -q "$RETRY" "$T/taken.log"
check "it failed three times first" test "$(grep -c "$RETRY" "$T/failed.log")" = 3
check "each failure is logged (kv format)" test "$(grep -c "level=WARN.*$RETRY.*exited with status 1" "$T/msdhs.agent.log")" = 3
check "and taken once" test "$(grep -c "$RETRY" "$T/taken.log")" = 1

# ---- SIGKILL while the hook runs: the hook dies with the agent, runs again ----
echo 30 > "$T/hook.sleep"
drop slow case-c
wait_for 10 test -f "$OUT/sent/slow.json.result.json"
SLOW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msg_id"])' "$OUT/sent/slow.json.result.json")
check "the slow hook started" wait_for 15 test -f "$T/started.$SLOW"
it_agent_stop msdhs KILL
sleep 0.3
check "the hook died with the agent (nothing taken)" bash -c "! grep -q $SLOW '$T/taken.log' && ! pgrep -f '^/bin/sh .*hook.sh $SLOW' >/dev/null"
rm -f "$T/hook.sleep"
it_agent_start msdhs
check "after the restart the hook runs again and takes it" wait_for 15 grep -q "$SLOW" "$T/taken.log"
check "once" test "$(grep -c "$SLOW" "$T/taken.log")" = 1

# ---- crash after the send, before the file left processing/ ----
it_agent_stop police
cp "$OUT/sent/first.json" "$OUT/processing/first.json"
it_agent_start police
check "the redone file is moved to sent/ again" wait_for 10 bash -c "! test -e '$OUT/processing/first.json'"
check "found already queued (idempotency key), not sent twice" \
  python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["repeated"] is True' "$OUT/sent/first.json.result.json"
check "one outbox message for it" test "$(outbox_count case-a)" = 1

# ---- SIGKILL storms: the outgoing spool and the inbox hand-off ----
N=24
for i in $(seq 1 $N); do drop "storm$i" storm; done
for round in 1 2 3 4 5 6; do
  sleep 0.$((RANDOM % 4 + 1))
  it_agent_stop police KILL
  [ $((round % 2)) = 0 ] && it_agent_stop msdhs KILL
  it_agent_start police
  [ $((round % 2)) = 0 ] && it_agent_start msdhs
done
check "every storm file is sent" wait_for 30 bash -c "test \$(ls '$OUT/sent' | grep -c '^storm[0-9]*\.json$') = $N"
check "nothing is left in processing/ or failed/" bash -c "test -z \"\$(ls '$OUT/processing')\" && ! ls '$OUT/failed' | grep -q storm"
check "exactly $N outbox messages for $N files" test "$(outbox_count storm)" = $N
EXPECT=$(( N + 4 ))     # first, retry, slow, warm-up, and the storm
check "every inbox item reaches msdhs" wait_for 40 bash -c "test \$('$BIN_AGENT' inbox --dir '$T/msdhs' --json | wc -l) = $EXPECT"
check "every item is taken by the hook" wait_for 40 bash -c "test \$(sort -u '$T/taken.log' | wc -l) = $EXPECT"
inbox_ids > "$T/inbox.ids"
ls "$IN" | sed 's/\.json$//' | sort > "$T/spool.ids"
sort -u "$T/taken.log" > "$T/taken.ids"
check "one spool file per inbox item, none missing, none extra" cmp -s "$T/inbox.ids" "$T/spool.ids"
check "the hook took exactly the inbox items" cmp -s "$T/inbox.ids" "$T/taken.ids"
check "no item taken twice" test "$(wc -l < "$T/taken.log")" = "$(wc -l < "$T/taken.ids")"
check "every item is marked taken" test "$("$BIN_AGENT" inbox --dir "$T/msdhs" --json | grep -c '"state":"taken"')" = $EXPECT

check "the audit log verifies" "$BIN_AUDIT" verify --dir "$NET"
it_done
