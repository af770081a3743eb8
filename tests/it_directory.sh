#!/usr/bin/env bash
# Integration test of the directory digest (docs/protocol.md 5.1): a Hello
# naming the broker's directory gets a Welcome without certificates, one
# naming another directory gets the whole directory; a restarted agent
# keeps its directory and sends with it; an enrolment (pushed to connected
# agents) and a revocation (learnt at the next Hello) still reach it.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police"
it_org msdhs msdhs "MSDHS Provincial Office"
it_org labour labour "Labour Protection Office"
it_broker_start
it_agent_start police
tc() { "$BIN_TESTCLIENT" --org "$T/police" --endpoint "$ENDPOINT" --to msdhs "$@"; }
digest() { tc directory | sed -n 's/^directory //p'; }
ZERO=0000000000000000000000000000000000000000000000000000000000000000

# 1. What the broker answers.
d1=$(digest)
check "the Welcome names its directory" grep -qE '^[0-9a-f]{64}$' <<<"$d1"
out=$(tc "hello-dir=$d1"); echo "$out"
check "a Hello naming the broker's directory gets a Welcome without certificates" \
  grep -q '^hello-dir unchanged same$' <<<"$out"
out=$(tc "hello-dir=$ZERO"); echo "$out"
check "a Hello naming another directory gets every certificate" \
  grep -q '^hello-dir full certs=3 ids=labour,msdhs,police$' <<<"$out"

# 2. The agent: its first Welcome carries the directory, a restart keeps it.
check "the agent's first Welcome carries the directory" \
  wait_for 10 grep -q "welcome from the broker: 3 certificates in the directory" "$T/police.agent.log"
it_agent_stop police
mv "$T/police.agent.log" "$T/police.agent.1.log"
it_agent_start police
check "a restarted agent names its directory and keeps it" \
  wait_for 10 grep -q "welcome from the broker: the directory we hold is current" "$T/police.agent.log"
id=$(send police labour referral case-dir-1 "$(it_doc referral police labour)")
check "...and sends with it" test -n "$id"
it_agent_start labour
check "...delivered" state_is police "$id" delivered

# 3. An enrolment is pushed to the connected agent and changes the digest.
it_org ngo ngo "Shelter NGO"
check "an enrolment reaches the connected agent" \
  wait_for 10 grep -q "welcome from the broker: 4 certificates in the directory" "$T/police.agent.log"
d2=$(digest)
check "...and names another directory" test -n "$d2" -a "$d2" != "$d1"
out=$(tc "hello-dir=$d1"); echo "$out"
check "a Hello naming the directory before it gets the new one" \
  grep -q '^hello-dir full certs=4 ids=labour,msdhs,ngo,police$' <<<"$out"

# 4. A revocation while the agent is stopped: its Hello names the old
# directory, so its Welcome carries the new one, without the revoked.
it_agent_stop police
"$BIN_ADMIN" revoke --dir "$NET" labour --reason "office closed" > "$T/revoke.log" 2>&1
check "labour revoked" grep -q "REVOKED" "$T/revoke.log"
mv "$T/police.agent.log" "$T/police.agent.2.log"
it_agent_start police
check "after a revocation the restarted agent gets the whole directory" \
  wait_for 10 grep -q "welcome from the broker: 3 certificates in the directory" "$T/police.agent.log"
out=$(it_send police labour referral case-dir-2 "$(it_doc referral police labour)" 2>&1)
echo "$out"
check "...without the revoked organisation" grep -q "the directory has no organisation 'labour'" <<<"$out"
out=$(tc "hello-dir=$d2"); echo "$out"
check "a Hello naming the directory before the revocation gets the new one" \
  grep -q '^hello-dir full certs=3 ids=msdhs,ngo,police$' <<<"$out"
d3=$(digest)
out=$(tc "hello-dir=$d3"); echo "$out"
check "...and the directory after it is current" grep -q '^hello-dir unchanged same$' <<<"$out"
it_done
