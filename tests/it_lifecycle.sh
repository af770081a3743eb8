#!/usr/bin/env bash
# Integration test of issue 4 with real processes: a referral's whole life
# between agents; a table of illegal transitions, each refused by the broker
# with its reason code and logged as REJECTED; consent refused by the agent
# and, for a forged envelope, by the broker; minimisation for an
# interpreter; a short deadline escalated to the sender and the supervisor;
# marker strings from every personal field never found under the broker's
# folder or in its log; and the log verifies.
. "$(dirname "$0")/lib.sh" "$1"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EX=$ROOT/config/examples

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_org labour labour "Labour Protection Office"
it_org interp interpreter "Interpreter Pool"
it_org mdt-tak mdt "Provincial MDT secretariat"
it_org forger ngo "A client that forges envelopes"   # nrm-testclient's own identity

# The demo policy, version 2, with a 3-second deadline for priority 0 and
# the MDT as supervisor: put in force by the administrator (the broker takes
# deadlines and supervisor from the policy in force), and copied to every
# organisation (ORG/policy.ini: the agents' deadlines and minimisation).
sed -e 's/^version     = 1/version     = 2/' -e 's/^priority-0 = 3d/priority-0 = 3s/' \
  -e 's/^supervisor = msdhs/supervisor = mdt-tak/' "$ROOT/config/policy.ini" > "$T/policy.ini"
"$BIN_ADMIN" policy --dir "$NET" "$T/policy.ini" > "$T/policy.log" 2>&1 || { cat "$T/policy.log"; fail "nrm-admin policy"; exit 1; }
for o in police msdhs labour interp mdt-tak; do cp "$T/policy.ini" "$T/$o/policy.ini"; done
it_broker_start
for o in police msdhs labour interp mdt-tak; do it_agent_start $o; done

# Marked copies of the examples: every free-text value inside a personal
# part of a document gets a marker of its own; coded values (dates, ISO
# codes, enums, ids) cannot hold one and say nothing without the rest.
MARKS=$T/marks.txt
python3 - "$EX" "$T" "$MARKS" "$ROOT/proto/nrm_body.proto" <<'PY'
import json, sys, os, re
ex, out, marks, proto = sys.argv[1:5]
# Free-text fields: the string fields of the schema, less those whose value
# is a code checked by nrm_body.c (dates, ISO codes, ids, organisation types).
text = set(re.findall(r"(?:optional|repeated) string (\w+) =", open(proto).read()))
coded = {"prs_Birthdate", "hte_Date", "cas_OutgoingReferralDate", "ext_PeriodFrom", "ext_PeriodTo",
         "ext_DecisionDate", "ext_CompletedDate", "ext_Date", "ext_ReplyBy", "ext_RecordedAt",
         "ext_Start", "prs_Citizenship", "ext_CountryOfExploitation", "hte_Country",
         "prs_PrimaryLanguage", "prs_SecondaryLanguage", "ext_InterpreterLanguage", "ext_Language",
         "cas_ReferringOrganisation", "cas_ReferredOrganisation", "ext_ContactThrough",
         "ext_ConsentToSharing", "ext_LawfulBasisReference", "ext_OverriddenBy", "ext_FieldsRequested"}
personal = {"person", "victim_context", "trafficking_events", "suspects", "employment",
            "case_file", "narrative", "narrative_summary", "request", "consent", "appointment"}
n = [0]
found = []
def mark(key, v):
    if isinstance(v, dict):
        return {k: mark(k, x) for k, x in v.items()}
    if isinstance(v, list):
        return [mark(key, x) for x in v]
    if isinstance(v, str) and key in text and key not in coded:
        n[0] += 1
        m = "MRK%04dX" % n[0]
        found.append(m)
        return v + " " + m
    return v
for f in sorted(os.listdir(ex)):
    d = json.load(open(os.path.join(ex, f)))
    for k in list(d):
        if k in personal:
            d[k] = mark(k, d[k])
    json.dump(d, open(os.path.join(out, "m-" + f), "w"))
open(marks, "w").write("\n".join(found) + "\n")
PY
check "markers placed in the personal fields ($(wc -l < "$MARKS"))" test "$(wc -l < "$MARKS")" -gt 50

# 1. A whole life: referral, delivered, accepted, completed.
R1=$(send police msdhs referral case-lc-1 "$T/m-referral-police-msdhs-shelter.json" --priority 2)
check "referral delivered" state_is police "$R1" delivered
A1=$(send msdhs police response case-lc-1 "$EX/response-accept.json" --reply-to "$R1")
check "acceptance delivered" state_is msdhs "$A1" delivered
x=$(send msdhs police response case-lc-1 "$EX/response-accept.json" --reply-to "$R1")
check "accepting twice -> already-answered" refused msdhs "$x" already-answered
O1=$(send msdhs police outcome case-lc-1 "$EX/outcome-completed.json" --reply-to "$R1")
check "outcome delivered" state_is msdhs "$O1" delivered
check "sender's case view: completed" test "$(case_state police case-lc-1 "$R1")" = completed
check "recipient's case view: completed" test "$(case_state msdhs case-lc-1 "$R1")" = completed
check "the recipient opens the document (case --documents)" bash -c \
  "'$BIN_AGENT' case --dir '$T/msdhs' case-lc-1 --documents | grep -q 'MRK'"

# 2. Illegal transitions, each refused with its reason and logged.
R2=$(send police labour referral case-lc-2 "$T/m-referral-police-labour-wages.json" --purpose wage-claim)
check "second referral delivered" state_is police "$R2" delivered
x=$(send labour police response case-lc-1 "$EX/response-accept.json" --reply-to "$R1")
check "accepting a referral not sent to you -> not-recipient" refused labour "$x" not-recipient
x=$(send msdhs police response case-lc-1 "$EX/response-accept.json" --reply-to "$R1")
check "accepting a completed referral -> closed" refused msdhs "$x" closed
x=$(send labour police outcome case-lc-2 "$EX/outcome-completed.json" --reply-to "$R2")
check "completing before accepting -> not-accepted" refused labour "$x" not-accepted
x=$(send msdhs police outcome case-lc-1 "$EX/outcome-completed.json" --reply-to "$R1")
check "completing twice -> closed" refused msdhs "$x" closed
x=$(send msdhs labour withdrawal case-lc-2 "$EX/withdrawal.json" --reply-to "$R2")
check "withdrawing what you did not send -> not-sender" refused msdhs "$x" not-sender
W2=$(send police labour withdrawal case-lc-2 "$EX/withdrawal.json" --reply-to "$R2")
check "the sender withdraws" state_is police "$W2" delivered
x=$(send labour police response case-lc-2 "$EX/response-accept.json" --reply-to "$R2")
check "answering a withdrawn referral -> withdrawn" refused labour "$x" withdrawn
x=$(send msdhs police response case-lc-1 "$EX/response-accept.json" --reply-to 0123456789abcdef0123456789abcdef)
check "answering an unknown referral -> unknown-referral" refused msdhs "$x" unknown-referral
x=$(send msdhs police response case-lc-1 "$EX/response-accept.json")
check "a response without in_reply_to -> reply-required" refused msdhs "$x" reply-required
R3=$(send police msdhs referral case-lc-3 "$T/m-referral-police-msdhs-shelter.json")
check "third referral accepted" state_is police "$R3" accepted
x=$(send msdhs police response case-lc-1 "$EX/response-accept.json" --reply-to "$R3")
check "answering under another case -> case-mismatch" refused msdhs "$x" case-mismatch
python3 - "$T/m-transfer-msdhs-ngo.json" "$T/transfer.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["consent"]["ext_ConsentToSharing"].append("msdhs")
json.dump(d, open(sys.argv[2], "w"))
PY
x=$(send mdt-tak msdhs transfer case-lc-1 "$T/transfer.json")
check "transferring a case one does not own -> not-owner" refused mdt-tak "$x" not-owner
D3=$(send msdhs police response case-lc-3 "$EX/response-decline.json" --reply-to "$R3")
check "a decline is accepted" state_is msdhs "$D3" delivered
check "sender's case view: declined" test "$(case_state police case-lc-3 "$R3")" = declined
x=$(send police msdhs withdrawal case-lc-3 "$EX/withdrawal.json" --reply-to "$R3")
check "withdrawing a declined referral -> already-answered" refused police "$x" already-answered

# 3. Consent: the agent refuses; a forged envelope is refused by the broker.
python3 - "$T/m-referral-police-msdhs-shelter.json" "$T/noconsent.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); del d["consent"]; json.dump(d, open(sys.argv[2], "w"))
PY
out=$(it_send police msdhs referral case-lc-4 "$T/noconsent.json" 2>&1)
check "agent refuses personal data without consent (exit 1)" test $? -eq 1
check "... and says why" grep -q "asserts neither consent nor a lawful basis" <<<"$out"
python3 - "$T/m-referral-police-labour-wages.json" "$T/notshared.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["consent"]["ext_ConsentToSharing"] = ["msdhs"]; json.dump(d, open(sys.argv[2], "w"))
PY
out=$(it_send police labour referral case-lc-4 "$T/notshared.json" --purpose wage-claim 2>&1)
check "agent refuses sharing with a type the consent does not name" grep -q "consent to services and to sharing" <<<"$out"
tc=$("$BIN_TESTCLIENT" --org "$T/forger" --endpoint "$ENDPOINT" --to msdhs consent-missing 2>>"$T/tc.err")
check "broker refuses a forged envelope without consent (consent-missing)" grep -q '^consent-missing consent-missing seq=' <<<"$tc"

# 4. Minimisation: an interpreter gets the appointment, not the story.
I1=$(it_send police interp interpreter-request case-lc-1 "$T/m-interpreter-request.json" \
     --purpose interpretation 2>"$T/min.err" | grep -oE '[0-9a-f]{32}')
check "the sender is told what was removed" bash -c \
  "grep 'removed for interp (interpreter, purpose interpretation)' '$T/min.err' | grep ext_Notes | grep -q person.prs_Birthdate"
check "interpreter request delivered" state_is interp "$I1" received
"$BIN_AGENT" inbox --dir "$T/interp" --id "$I1" --json > "$T/interp.json"
check "the interpreter has the appointment" grep -q '"ext_Start"' "$T/interp.json"
check "the interpreter does not have the notes or the birth date" bash -c \
  "! grep -q 'ext_Notes\|prs_Birthdate\|ext_Child' '$T/interp.json'"
check "the envelope names the removed fields (names only)" bash -c \
  "'$BIN_AGENT' case --dir '$T/interp' case-lc-1 --json | grep -q '\"stripped\":\\[[^]]*ext_Notes'"

# 5. Deadlines: priority 0 is due in 3 s here; nobody answers.
printf '{"request":{"ext_Service":"wage-claim","ext_Notes":"routine"}}' > "$T/routine.json"
R5=$(send police labour referral case-lc-5 "$T/routine.json" --purpose wage-claim)
check "routine referral delivered" state_is police "$R5" delivered
check "police told it is overdue (nrm-agent overdue)" wait_for 20 bash -c \
  "'$BIN_AGENT' overdue --dir '$T/police' | grep -q '^$R5 .*(sender, overdue)'"
check "the supervisor is told too" wait_for 10 bash -c \
  "'$BIN_AGENT' overdue --dir '$T/mdt-tak' | grep -q '^$R5 .*(supervisor'"
check "an ESCALATED record in the log" bash -c \
  "'$BIN_AUDIT' export --dir '$NET' --format jsonl | grep '\"kind\":\"ESCALATED\"' | grep -q 'case-lc-5'"
check "the sender's case view says overdue" test "$(case_state police case-lc-5 "$R5")" = overdue
A5=$(send labour police response case-lc-5 "$EX/response-accept.json" --reply-to "$R5")
check "a late answer is still accepted" state_is labour "$A5" delivered
check "... and the referral leaves the overdue list" wait_for 10 bash -c \
  "! '$BIN_AGENT' overdue --dir '$T/police' | grep -q '^$R5'"

# 6. Every refusal above is a REJECTED record with its lifecycle reason.
"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export.jsonl"
n=$(python3 -c '
import json,sys
codes=set()
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["kind"]=="REJECTED": codes.add(r.get("reason_code"))
print(len(codes & {24,25,26,27,28,29,30,31,33,34,35}))' "$T/export.jsonl")
check "REJECTED records carry the lifecycle reason codes (11 kinds, got $n)" test "$n" -eq 11

# 7. No marker from any personal field under the broker's folder or in its log.
leaks=0
while read -r m; do
  if grep -a -r -q -F "$m" "$NET" "$T/broker.log"; then echo "marker $m found at the broker"; leaks=$((leaks + 1)); fi
done < "$MARKS"
check "no personal-field marker in NET/ (LMDB files included) or the broker log" test "$leaks" -eq 0
check "control: the markers are readable at the recipient" bash -c \
  "'$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -q MRK"

# 8. Bodies go, the trail stays: the broker dropped every delivered body;
#    the recipient purges its opened bodies; everything still verifies.
bodies=$(mdb_stat -s bodies "$NET/data" 2>/dev/null | sed -nE 's/^ *Entries: ([0-9]+).*/\1/p')
check "no body left at the broker after delivery (bodies: $bodies)" test "$bodies" = 0
out=$("$BIN_AGENT" purge --dir "$T/msdhs" --older-than 0s)
check "msdhs purges its opened bodies ($out)" grep -qE 'purged the bodies of [1-9]' <<<"$out"
check "no marker readable at msdhs after the purge" bash -c \
  "! '$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep -q MRK"
check "the purged entries keep their envelope (case view)" test "$(case_state msdhs case-lc-1 "$R1")" = completed
check "the case view says the body is purged" bash -c \
  "'$BIN_AGENT' case --dir '$T/msdhs' case-lc-1 --documents --json | grep -q 'body purged'"
check "the log verifies, lifecycle replayed, bodies gone" "$BIN_AUDIT" verify --dir "$NET"
it_done
