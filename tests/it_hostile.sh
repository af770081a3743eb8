#!/usr/bin/env bash
# Integration test: a table of hostile inputs (tests/hostile.c) against a
# live broker, each with its exact refusal; then nothing accepted before is
# lost: messages delivered before are still in the inbox, messages queued
# for an offline recipient are delivered after, every refusal is a REJECTED
# record, and the log verifies.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_broker_start
it_agent_start police
it_agent_start msdhs


# Before: three delivered, three accepted and queued for an offline recipient.
printf '{"request":{"ext_Service":"hostile"}}' > "$T/doc.json"
before=()
for n in 1 2 3; do before+=("$(send police msdhs referral case-hostile-before "$T/doc.json")"); done
for x in "${before[@]}"; do check "delivered before the table: $x" state_is police "$x" delivered; done
it_agent_stop msdhs
queued=()
for n in 1 2 3; do queued+=("$(send police msdhs referral case-hostile-queued "$T/doc.json")"); done
for x in "${queued[@]}"; do check "accepted and queued before the table: $x" state_is police "$x" accepted; done
# The table runs with police's keys; its daemon steps aside meanwhile.
it_agent_stop police

"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export-before.jsonl"
rej_before=$(grep -c '"kind":"REJECTED"' "$T/export-before.jsonl" || true)

"$BIN_TESTCLIENT" --org "$T/police" --endpoint "$ENDPOINT" --to msdhs table > "$T/table.txt" 2>>"$T/tc.err"
rc=$?
cat "$T/table.txt"
check "every hostile case got its exact answer (exit $rc)" test $rc -eq 0
ncases=$(sed -nE 's/^cases ([0-9]+) .*/\1/p' "$T/table.txt")
check "at least 30 cases ($ncases)" test "${ncases:-0}" -ge 30
logged=$(sed -nE 's/.* rejected-records ([0-9]+)$/\1/p' "$T/table.txt")

check "the broker is still running" kill -0 "$BROKER_PID"
"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export.jsonl"
rej_after=$(grep -c '"kind":"REJECTED"' "$T/export.jsonl" || true)
check "every refusal is one REJECTED record ($((rej_after - rej_before)) = $logged)" \
  test "$((rej_after - rej_before))" -eq "${logged:-x}"
accepted_table=$(grep -c '"kind":"ACCEPTED".*case-hostile"' "$T/export.jsonl" || true)
check "the table's genuine message and its burst of copies were accepted once each, replays not again ($accepted_table)" \
  test "$accepted_table" -eq 2

# Nothing accepted before is lost.
it_agent_start police
it_agent_start msdhs
for x in "${queued[@]}"; do check "queued before the table, delivered after: $x" state_is police "$x" delivered; done
inbox=$("$BIN_AGENT" inbox --dir "$T/msdhs" --json)
for x in "${before[@]}" "${queued[@]}"; do
  check "in the inbox exactly once: $x" test "$(grep -c "$x" <<<"$inbox")" -eq 1
done
check "the log verifies after the table" "$BIN_AUDIT" verify --dir "$NET"
it_done
