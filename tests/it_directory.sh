#!/usr/bin/env bash
# Integration test of the directory digest (docs/protocol.md 5.1): a Hello
# naming the broker's directory gets a Welcome without certificates, one
# naming another directory gets the whole directory; a restarted agent
# keeps its directory and sends with it; an enrolment, a revocation and a
# rotation reach a connected agent as a directory delta (only what changed)
# that leaves it with the broker's directory; an agent whose directory is
# not the one a delta applies to asks for the whole directory; a
# revocation while it is stopped is learnt at the next Hello.
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

# 3. An enrolment is pushed to the connected agent as a delta: only the new
# certificate, from the directory it holds to the broker's new one.
it_org ngo ngo "Shelter NGO"
d2=$(digest)
check "...and names another directory" test -n "$d2" -a "$d2" != "$d1"
check "an enrolment reaches the connected agent as a delta from its directory to the new one" \
  wait_for 10 grep -q "directory update ${d1:0:16} -> ${d2:0:16} applied: 1 certificates, 0 removed" \
  "$T/police.agent.log"
check "...sent as a delta by the broker" grep -q "directory change (.* bytes) sent to 2 connected" \
  "$T/broker.log"
check "...not as the whole directory" bash -c "! grep -q 'welcome from the broker: 4 certificates' '$T/police.agent.log'"
id=$(send police ngo referral case-dir-3 "$(it_doc referral police ngo)")
check "...and the agent seals to the new organisation at once" test -n "$id"
it_agent_stop police
mv "$T/police.agent.log" "$T/police.agent.3.log"
it_agent_start police
check "...ending with the directory a fresh Hello gets: the restarted agent's Hello names it" \
  wait_for 10 grep -q "welcome from the broker: the directory we hold is current" "$T/police.agent.log"
out=$(tc "hello-dir=$d1"); echo "$out"
check "a Hello naming the directory before it gets the new one" \
  grep -q '^hello-dir full certs=4 ids=labour,msdhs,ngo,police$' <<<"$out"

# 3b. An agent whose directory is not the one a delta applies to asks for
# the whole directory. police is suspended (not pushed to) while ngo2 is
# enrolled, resumed (the directory is unchanged), and the delta of ngo3's
# enrolment then applies to a directory it does not hold.
"$BIN_ADMIN" suspend --dir "$NET" police --reason "audit" > "$T/suspend.log" 2>&1
check "police suspended" grep -q "SUSPENDED" "$T/suspend.log"
it_org ngo2 ngo "Second NGO"
"$BIN_ADMIN" resume --dir "$NET" police > "$T/resume.log" 2>&1
check "police resumed" grep -q "RESUMED" "$T/resume.log"
d4=$(digest)
check "the suspended agent got no delta of ngo2's enrolment" \
  bash -c "! grep -q 'directory update ${d2:0:16} -> ${d4:0:16}' '$T/police.agent.log'"
it_org ngo3 ngo "Third NGO"
d5=$(digest)
check "the delta of ngo3's enrolment is not applied to another directory" \
  wait_for 10 grep -q "directory update ${d4:0:16} -> ${d5:0:16} not applied: it applies to another directory than ours; asking for the whole directory" \
  "$T/police.agent.log"
check "...the agent asks for the whole directory and gets it" \
  wait_for 10 grep -q "welcome from the broker: 6 certificates in the directory, 0 refused" "$T/police.agent.log"
id=$(send police ngo2 referral case-dir-4 "$(it_doc referral police ngo2)")
check "...so it seals to the organisation whose delta it missed" test -n "$id"
it_agent_stop police
mv "$T/police.agent.log" "$T/police.agent.4.log"
it_agent_start police
check "...ending with the broker's directory" \
  wait_for 10 grep -q "welcome from the broker: the directory we hold is current" "$T/police.agent.log"

# 3c. A revocation is pushed as a delta too: the id leaves the directory.
"$BIN_ADMIN" revoke --dir "$NET" ngo3 --reason "closed" > "$T/revoke3.log" 2>&1
check "ngo3 revoked" grep -q "REVOKED" "$T/revoke3.log"
d6=$(digest)
check "a revocation reaches the connected agent as a delta removing the id" \
  wait_for 10 grep -q "directory update ${d5:0:16} -> ${d6:0:16} applied: 0 certificates, 1 removed" \
  "$T/police.agent.log"
out=$(it_send police ngo3 referral case-dir-5 "$(it_doc referral police ngo3)" 2>&1)
echo "$out"
check "...and the agent no longer seals to the revoked organisation" \
  grep -q "the directory has no organisation 'ngo3'" <<<"$out"
it_agent_stop police
mv "$T/police.agent.log" "$T/police.agent.5.log"
it_agent_start police
check "...ending with the broker's directory" \
  wait_for 10 grep -q "welcome from the broker: the directory we hold is current" "$T/police.agent.log"

# 4. A revocation while the agent is stopped: its Hello names the old
# directory, so its Welcome carries the new one, without the revoked.
it_agent_stop police
"$BIN_ADMIN" revoke --dir "$NET" labour --reason "office closed" > "$T/revoke.log" 2>&1
check "labour revoked" grep -q "REVOKED" "$T/revoke.log"
mv "$T/police.agent.log" "$T/police.agent.6.log"
it_agent_start police
check "after a revocation the restarted agent gets the whole directory" \
  wait_for 10 grep -q "welcome from the broker: 4 certificates in the directory" "$T/police.agent.log"
out=$(it_send police labour referral case-dir-2 "$(it_doc referral police labour)" 2>&1)
echo "$out"
check "...without the revoked organisation" grep -q "the directory has no organisation 'labour'" <<<"$out"
out=$(tc "hello-dir=$d2"); echo "$out"
check "a Hello naming the directory before the revocation gets the new one" \
  grep -q '^hello-dir full certs=4 ids=msdhs,ngo,ngo2,police$' <<<"$out"
d3=$(digest)
out=$(tc "hello-dir=$d3"); echo "$out"
check "...and the directory after it is current" grep -q '^hello-dir unchanged same$' <<<"$out"
it_done
