#!/usr/bin/env bash
# Prometheus metrics of the broker and the agents (docs/operations.md):
# scraped over HTTP, checked for the documented names and a valid text
# format, and for values that change with traffic: accepted, refused by
# reason, delivered, queue depth per recipient and the oldest undelivered
# age while the recipient is away, commit and batch histograms.
. "$(dirname "$0")/lib.sh" "$1"
POLICY=$(cd "$(dirname "$0")/../config" && pwd)/policy.ini
DOCS=$(cd "$(dirname "$0")/../docs" && pwd)

it_setup
it_org police police "Police"
it_org msdhs msdhs "MSDHS"
for o in police msdhs; do
  cp "$POLICY" "$T/$o/policy.ini"
  printf '[metrics]\nlisten = 127.0.0.1:0\n' > "$T/$o/agent.ini"
done
it_broker_start --metrics 127.0.0.1:0
it_agent_start police
it_agent_start msdhs
wait_for 10 test -s "$NET/metrics.endpoint" || { fail "no broker metrics endpoint"; exit 1; }
wait_for 10 test -s "$T/police/metrics.endpoint" || { fail "no agent metrics endpoint"; exit 1; }
BM=$(cat "$NET/metrics.endpoint")
PM=$(cat "$T/police/metrics.endpoint")

scrape() { curl -sf "$1" > "$T/scrape" && cat "$T/scrape"; }
# value URL 'name{labels}' (0 when absent)
value() {
  scrape "$1" | python3 -c '
import sys
want = sys.argv[1]
for l in sys.stdin:
    if l.startswith("#"): continue
    k, v = l.rsplit(" ", 1)
    if k == want: print(v.strip()); break
else: print(0)' "$2"
}
# The whole text must parse: HELP and TYPE before each family's samples,
# every sample "name{labels} number".
valid_format() {
  scrape "$1" | python3 -c '
import re, sys
typed = set()
for n, l in enumerate(sys.stdin, 1):
    l = l.rstrip("\n")
    m = re.match(r"# TYPE (\w+) (counter|gauge|histogram)$", l)
    if m: typed.add(m.group(1)); continue
    if l.startswith("# HELP "): continue
    m = re.match(r"([a-zA-Z_:][\w:]*)(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? (-?[0-9.e+]+|NaN|\+Inf)$", l)
    assert m, "line %d: %r" % (n, l)
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    assert m.group(1) in typed or base in typed, "line %d: no TYPE for %s" % (n, m.group(1))'
}
check "broker metrics are valid Prometheus text" valid_format "$BM"
check "agent metrics are valid Prometheus text" valid_format "$PM"
for name in nrm_broker_up nrm_broker_messages_total nrm_broker_rejected_total \
    nrm_broker_delivery_refused_total nrm_broker_queue_depth nrm_broker_queued_messages \
    nrm_broker_oldest_undelivered_seconds nrm_broker_referrals_open nrm_broker_referrals_overdue \
    nrm_broker_batch_frames nrm_broker_commit_seconds nrm_broker_frames_total \
    nrm_broker_log_records nrm_broker_store_bytes nrm_broker_peers_connected \
    nrm_broker_deliveries_in_flight; do
  check "broker exposes $name, documented" bash -c "grep -q '^# TYPE $name ' '$T/scrape' || curl -s '$BM' | grep -q '^# TYPE $name '; grep -q '$name' '$DOCS/operations.md'"
done
for name in nrm_agent_up nrm_agent_connected nrm_agent_outbox_messages nrm_agent_inbox_messages \
    nrm_agent_inbox_new nrm_agent_outbox_oldest_unanswered_seconds \
    nrm_agent_outbox_oldest_undelivered_seconds nrm_agent_handoff_pending nrm_agent_store_bytes; do
  check "agent exposes $name, documented" bash -c "curl -s '$PM' | grep -q '^# TYPE $name '; grep -q '$name' '$DOCS/operations.md'"
done

# ---- traffic ----
LOG0=$(value "$BM" nrm_broker_log_records)
wait_for 10 bash -c "'$BIN_AGENT' send --dir '$T/police' --to msdhs --type referral --case m1 --file '$(it_doc referral police msdhs)' > '$T/id1' 2>/dev/null"
"$BIN_AGENT" wait --dir "$T/police" --msg "$(cat "$T/id1")" --state delivered --timeout 20 >/dev/null
check "accepted counts the message" test "$(value "$BM" 'nrm_broker_messages_total{outcome="accepted"}')" -ge 1
check "delivered counts it" test "$(value "$BM" 'nrm_broker_messages_total{outcome="delivered"}')" -ge 1
check "the log grew" test "$(value "$BM" nrm_broker_log_records)" -gt "$LOG0"
check "batches were committed (histogram count)" test "$(value "$BM" nrm_broker_commit_seconds_count)" -ge 1
check "frames were decided" test "$(value "$BM" nrm_broker_frames_total)" -ge 2
check "police's agent counts a final outbox message" test "$(value "$PM" 'nrm_agent_outbox_messages{state="final"}')" = 1
check "msdhs's agent counts a new inbox message" test "$(value "$(cat "$T/msdhs/metrics.endpoint")" nrm_agent_inbox_new)" = 1
check "police's agent is connected" test "$(value "$PM" nrm_agent_connected)" = 1
check "two peers are connected" test "$(value "$BM" nrm_broker_peers_connected)" = 2

# a refusal, counted by its reason
NRM_TEST_CORRUPT_SIGNATURE=1 "$BIN_AGENT" send --dir "$T/police" --to msdhs --type referral --case m2 \
  --file "$(it_doc referral police msdhs)" > "$T/id2" 2>/dev/null
"$BIN_AGENT" wait --dir "$T/police" --msg "$(cat "$T/id2")" --state accepted --timeout 20 >/dev/null 2>&1
check "a bad signature is counted by reason" wait_for 5 bash -c "curl -s '$BM' | grep -qE '^nrm_broker_rejected_total\{reason=\"bad-signature\"\} 1$'"

# queue depth and age while the recipient is away
it_agent_stop msdhs
"$BIN_AGENT" send --dir "$T/police" --to msdhs --type referral --case m3 --file "$(it_doc referral police msdhs)" > "$T/id3" 2>/dev/null
"$BIN_AGENT" wait --dir "$T/police" --msg "$(cat "$T/id3")" --state accepted --timeout 20 >/dev/null
sleep 1.2
check "queue depth of msdhs is 1" test "$(value "$BM" 'nrm_broker_queue_depth{recipient="msdhs"}')" = 1
check "the oldest undelivered message is over a second old" python3 -c "import sys; assert float(sys.argv[1]) >= 1.0" "$(value "$BM" nrm_broker_oldest_undelivered_seconds)"
check "the agent sees it waiting for delivery" python3 -c "import sys; assert float(sys.argv[1]) >= 1.0" "$(value "$PM" nrm_agent_outbox_oldest_undelivered_seconds)"
check "a referral is open" test "$(value "$BM" nrm_broker_referrals_open)" -ge 1
it_agent_start msdhs
check "after delivery the queue is empty" wait_for 15 bash -c "curl -s '$BM' | grep -q '^nrm_broker_queued_messages 0$'"
# the broker signs a checkpoint within checkpoint_seconds (5 s by default) of new records
check "the last checkpoint's record is exported" wait_for 12 bash -c "curl -s '$BM' | grep -q '^nrm_broker_checkpoint_record [1-9]'"
check "its age is a small number of seconds" python3 -c "import sys; assert 0 <= float(sys.argv[1]) < 60" "$(value "$BM" nrm_broker_checkpoint_age_seconds)"
check "checkpoint metrics are documented" grep -q nrm_broker_checkpoint_age_seconds "$DOCS/operations.md"
check "wrong path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${BM%/metrics}/other")" = 404
it_done
