#!/usr/bin/env bash
# Integration test: every kind of refusal gets a signed receipt with its
# reason code and a REJECTED record; nothing crashes; what was accepted
# before is still delivered; the log still verifies.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_broker_start
it_agent_start msdhs

# A genuine message first: it must survive everything below.
out=""
for i in $(seq 1 50); do
  out=$("$BIN_TESTCLIENT" --org "$T/police" --endpoint "$ENDPOINT" --to msdhs valid 2>>"$T/tc.err") && break
  sleep 0.1
done
check "a valid frame is accepted" grep -q '^valid ok seq=' <<<"$out"

"$BIN_TESTCLIENT" --org "$T/police" --endpoint "$ENDPOINT" --to msdhs \
  malformed multipart oversize sender-mismatch bad-signature body-mismatch \
  bad-version unknown-recipient duplicate resend > "$T/receipts.txt" 2>>"$T/tc.err"
cat "$T/receipts.txt"
expect() { # expect CASE STATUS
  check "$1 -> $2" grep -q "^$1 $2 seq=[1-9]" "$T/receipts.txt"
}
expect malformed malformed
expect multipart malformed
expect oversize too-big
expect sender-mismatch sender-mismatch
expect bad-signature bad-signature
expect body-mismatch body-mismatch
expect bad-version bad-version
expect unknown-recipient unknown-recipient
expect duplicate-first ok
expect duplicate duplicate
expect resend-first ok
# The exact same frame again is a retry: the same receipt, no new record.
first=$(sed -nE 's/^resend-first ok seq=([0-9]+).*/\1/p' "$T/receipts.txt")
again=$(sed -nE 's/^resend ok seq=([0-9]+).*/\1/p' "$T/receipts.txt")
check "a resent frame gets its original receipt (seq $first = $again)" test -n "$first" -a "$first" = "$again"

# Every refusal is a REJECTED record with its reason code.
"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export.jsonl" 2> "$T/export.err"
rc=$?
check "export of the live log succeeds (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || { echo "export stderr:"; cat "$T/export.err"; }
rejected=$(grep -c '"kind":"REJECTED"' "$T/export.jsonl" || true)
check "nine refusals, nine REJECTED records ($rejected)" test "$rejected" -eq 9
check "the broker is still running" kill -0 "$BROKER_PID"
check "the log verifies after hostile input" "$BIN_AUDIT" verify --dir "$NET"

# A refusal reaches the sending agent's outbox with its reason: the agent
# here signs with a corrupted signature (test-only fault injection).
it_agent_start police
printf '{"cas_OutgoingReferralDetails":"refused"}' > "$T/tip.json"
for i in $(seq 1 100); do
  bad=$(NRM_TEST_CORRUPT_SIGNATURE=1 "$BIN_AGENT" send --dir "$T/police" --to msdhs --type tip \
        --case case-it-refused --file "$T/tip.json" 2>>"$T/send.err") && break
  sleep 0.1
done
"$BIN_AGENT" wait --dir "$T/police" --msg "$bad" --state accepted --timeout 20 > "$T/wait.out" 2>&1
check "wait reports the refusal (exit 3)" test $? -eq 3
check "outbox shows the reason" bash -c "'$BIN_AGENT' outbox --dir '$T/police' | grep -F '${bad:0:8}' | grep -q bad-signature"

# Accepted work is intact: both genuine messages reached msdhs. (nrm-testclient
# seals in format 1, crypto_box_seal, as agents before format 2 did: msdhs
# opened them.)
check "accepted messages delivered despite the refusals" bash -c \
  "[ \$('$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -c case-testclient) -ge 3 ]" 
it_done
