#!/usr/bin/env bash
# The local HTTP/JSON API of nrm-agent (docs/api.yaml), every endpoint
# called over HTTP with curl: authentication (401 JSON), bad requests (400
# with the field), sending each kind, inbox list/fetch/take, outbox, case,
# overdue, idempotent retries, the Unix socket; and the demo's shelter case
# played entirely over HTTP between two agents, then checked by the audit.
. "$(dirname "$0")/lib.sh" "$1"
EX=$(cd "$(dirname "$0")/../config/examples" && pwd)
POLICY=$(cd "$(dirname "$0")/../config" && pwd)/policy.ini

it_setup
it_org police police "Police"
it_org msdhs msdhs "MSDHS"
for o in police msdhs; do
  cp "$POLICY" "$T/$o/policy.ini"
  printf '[api]\nlisten = 127.0.0.1:0\n\n[metrics]\nlisten = 127.0.0.1:0\n' > "$T/$o/agent.ini"
done
it_broker_start
it_agent_start police
it_agent_start msdhs
for o in police msdhs; do
  wait_for 10 test -s "$T/$o/api.endpoint" || { fail "API of $o did not start"; cat "$T/$o.agent.log"; exit 1; }
done
declare -A URL TOKEN
for o in police msdhs; do
  URL[$o]=$(cat "$T/$o/api.endpoint")
  TOKEN[$o]=$(cat "$T/$o/api.token")
done
check "the token file is made 0600" test "$(stat -c %a "$T/police/api.token")" = 600
check "the token is 64 hex characters" grep -qE '^[0-9a-f]{64}$' "$T/police/api.token"

# api ORG METHOD PATH [BODY-FILE|-] [extra curl args]: sets CODE and BODY.
api() {
  local org=$1 method=$2 path=$3 data=${4:-}
  shift 3; [ $# -gt 0 ] && shift
  local args=(-s -o "$T/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer ${TOKEN[$org]}")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$data")
  CODE=$(curl "${args[@]}" "$@" "${URL[$org]}$path")
  BODY=$(cat "$T/body")
}
# jq-like field access: jget EXPR (python expression over d)
jget() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$BODY"; }
expect() { # expect DESCRIPTION CODE [python condition over d]
  local what=$1 code=$2 cond=${3:-True}
  if [ "$CODE" = "$code" ] && [ "$(jget "bool($cond)" 2>/dev/null)" = True ]; then ok "$what"
  else fail "$what: got $CODE $BODY"; fi
}
# send-request JSON: req TO TYPE CASE DOC-FILE [extra json members]
req() {
  python3 - "$@" > "$T/req.json" <<'EOF'
import json, sys
to, typ, case, doc = sys.argv[1:5]
r = {"to": to, "type": typ, "case": case, "document": json.load(open(doc))}
for kv in sys.argv[5:]:
    k, v = kv.split("=", 1)
    r[k] = json.loads(v)
print(json.dumps(r))
EOF
}
# Sends until the directory knows the recipient (the agent's first Welcome).
send_ok() { # send_ok ORG (request in $T/req.json) -> MSG
  local i
  for i in $(seq 1 50); do
    api "$1" POST /v1/messages "$T/req.json"
    [ "$CODE" = 201 ] && break
    sleep 0.2
  done
  MSG=$(jget 'd.get("msg_id","")')
  [ "$CODE" = 201 ]
}

# ---- authentication ----
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "${URL[police]}/v1/inbox"); BODY=$(cat "$T/body")
expect "no token: 401 JSON error" 401 'd["error"]["code"]=="unauthorized" and d["error"]["field"]=="Authorization"'
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[msdhs]}" "${URL[police]}/v1/inbox"); BODY=$(cat "$T/body")
expect "another agent's token: 401" 401 'd["error"]["code"]=="unauthorized"'
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Basic ${TOKEN[police]}" "${URL[police]}/v1/health"); BODY=$(cat "$T/body")
expect "not a bearer token: 401" 401 '"error" in d'
api police GET /v1/health
expect "health with the token" 200 'd["status"]=="ok" and d["org"]=="police"'
api police GET /v1/nothing
expect "unknown resource: 404 JSON" 404 'd["error"]["code"]=="not_found"'
api police DELETE /v1/inbox
expect "wrong method: 405 JSON" 405 'd["error"]["code"]=="method_not_allowed"'

# ---- bad requests ----
printf '{"to": "msdhs", ' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "truncated JSON: 400 bad_json with line and column" 400 'd["error"]["code"]=="bad_json" and "line 1" in d["error"]["message"]'
printf '{"to":"msdhs","to":"x","type":"referral","case":"c1","document":{}}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "duplicate key refused" 400 'd["error"]["code"]=="bad_json"'
printf '{"to":"msdhs","type":"referral","case":"c1","document":{},"colour":"red"}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "unknown field named" 400 'd["error"]["field"]=="colour"'
printf '{"type":"referral","case":"c1","document":{}}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "missing 'to' named" 400 'd["error"]["field"]=="to"'
printf '{"to":"msdhs","type":"gossip","case":"c1","document":{}}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "unknown type named" 400 'd["error"]["field"]=="type"'
printf '{"to":"msdhs","type":"referral","case":"C 1","document":{}}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "bad case reference named" 400 'd["error"]["field"]=="case"'
printf '{"to":"msdhs","type":"referral","case":"c1","document":{},"priority":7}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "bad priority named" 400 'd["error"]["field"]=="priority"'
printf '{"to":"msdhs","type":"referral","case":"c1","document":[]}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "document not an object named" 400 'd["error"]["field"]=="document"'
python3 - "$EX/referral-police-msdhs-shelter.json" > "$T/bad.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["person"]["prs_Citizenship"] = ["XX"]
print(json.dumps({"to": "msdhs", "type": "referral", "case": "c1", "document": doc}))
EOF
for i in $(seq 1 50); do  # the directory fills at the first Welcome
  api police POST /v1/messages "$T/bad.json"
  jget 'd["error"]["field"]' 2>/dev/null | grep -q '^document\.' && break
  sleep 0.2
done
expect "a schema error names the document's field path" 400 'd["error"]["field"]=="document.person.prs_Citizenship[0]"'
printf '{"to":"nobody","type":"referral","case":"c1","document":{"request":{"ext_Service":"x"}}}' > "$T/bad.json"
api police POST /v1/messages "$T/bad.json"
expect "unknown recipient names 'to'" 400 'd["error"]["field"]=="to"'
head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$T/big.json"
api police POST /v1/messages "$T/big.json"
expect "a body over the cap: 413" 413 'd["error"]["code"]=="too_big"'
api police GET "/v1/inbox?limit=0"
expect "bad query argument named" 400 'd["error"]["field"]=="limit"'
api police GET /v1/inbox/zz
expect "bad message id: 404" 404 'd["error"]["field"]=="msg_id"'
api police GET /v1/inbox/00000000000000000000000000000000
expect "unknown message: 404" 404 'd["error"]["code"]=="not_found"'
api police POST /v1/inbox/00000000000000000000000000000000/take
expect "taking an unknown message: 404" 404 'd["error"]["code"]=="not_found"'
api police GET /v1/cases/nosuchcase
expect "unknown case: 404" 404 'd["error"]["field"]=="case"'

# ---- the demo's shelter case, entirely over HTTP ----
CASE="case-http-$$"
req msdhs referral "$CASE" "$EX/referral-police-msdhs-shelter.json" 'priority=3'
check "police sends the shelter referral (201)" send_ok police
REF=$MSG
expect "the answer carries the message id and priority" 201 'len(d["msg_id"])==32 and d["priority"]==3 and d["repeated"]==False'
check "police's outbox has it" wait_for 10 bash -c "curl -s -H 'Authorization: Bearer ${TOKEN[police]}' ${URL[police]}/v1/outbox/$REF | grep -q '\"state\":\"delivered\"'"
api police GET "/v1/outbox/$REF"
expect "outbox entry: delivered, with sequence numbers" 200 'd["state"]=="delivered" and d["accepted_seq"]>0 and d["delivered_seq"]>0 and d["to"]=="msdhs"'
api msdhs GET "/v1/inbox?state=new"
expect "msdhs lists it as new, without the document" 200 \
  "any(i['msg_id']=='$REF' and i['state']=='new' and 'document' not in i for i in d['items']) and d['next_after'] is None"
api msdhs GET "/v1/inbox/$REF"
expect "msdhs fetches it with the opened document" 200 \
  "d['from']=='police' and d['type']=='referral' and d['case']=='$CASE' and d['document']['person']['prs_Citizenship']==['MM']"
api msdhs GET "/v1/inbox?documents=true"
expect "the list can carry documents" 200 "all('document' in i for i in d['items'])"
api msdhs POST "/v1/inbox/$REF/take"
expect "msdhs takes it" 200 "d['state']=='taken' and d['changed']==True"
T1=$(jget 'd["taken_ms"]')
api msdhs POST "/v1/inbox/$REF/take"
expect "taking it again changes nothing (idempotent)" 200 "d['changed']==False and d['taken_ms']==$T1"
api msdhs GET "/v1/inbox?state=new"
expect "no longer new" 200 "all(i['msg_id']!='$REF' for i in d['items'])"
api msdhs GET "/v1/inbox?state=taken"
expect "listed as taken" 200 "any(i['msg_id']=='$REF' and i['taken_ms']==$T1 for i in d['items'])"
check "the CLI shows the same state" bash -c "'$BIN_AGENT' inbox --dir '$T/msdhs' --json | grep '$REF' | grep -q '\"state\":\"taken\"'"

req police response "$CASE" "$EX/response-accept.json" "reply_to=\"$REF\"" 'priority=3'
check "msdhs accepts over HTTP" send_ok msdhs
ACC=$MSG
req police outcome "$CASE" "$EX/outcome-completed.json" "reply_to=\"$REF\"" 'priority=3'
check "msdhs reports the outcome over HTTP" send_ok msdhs
OUT=$MSG
check "both answers reach police" wait_for 15 bash -c "'$BIN_AGENT' wait --dir '$T/police' --msg $OUT --state received --timeout 0 && '$BIN_AGENT' wait --dir '$T/police' --msg $ACC --state received --timeout 0"
api police GET "/v1/cases/$CASE"
expect "police's case view: the referral completed" 200 \
  "d['case']=='$CASE' and [r['state'] for r in d['referrals']]==['completed'] and len(d['messages'])==3"
api police GET "/v1/cases/$CASE?documents=true"
expect "the case view can open the received documents" 200 \
  "all('document' in m for m in d['messages'] if m['direction']=='received')"
CLI=$("$BIN_AGENT" case --dir "$T/police" "$CASE" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print([r["state"] for r in d["referrals"]])')
check "the CLI's case view agrees" test "$CLI" = "['completed']"
api police GET /v1/overdue
expect "overdue: none" 200 "d['items']==[]"
api police GET "/v1/overdue?all=true"
expect "overdue --all: none either" 200 "d['items']==[]"
api msdhs GET "/v1/outbox?limit=1"
expect "outbox pages: one entry and a cursor" 200 "len(d['items'])==1 and d['next_after']==d['items'][0]['key']"
NEXT=$(jget 'd["next_after"]')
api msdhs GET "/v1/outbox?limit=1&after=$NEXT"
expect "the next page" 200 "len(d['items'])==1 and d['items'][0]['key']>$NEXT"

# ---- idempotent retries ----
req msdhs referral "$CASE-2" "$EX/referral-police-msdhs-shelter.json"
api police POST /v1/messages "$T/req.json" -H 'Idempotency-Key: retry-1'
expect "a send with an Idempotency-Key" 201 'd["repeated"]==False'
FIRST=$(jget 'd["msg_id"]')
api police POST /v1/messages "$T/req.json" -H 'Idempotency-Key: retry-1'
expect "the same key again: the same message, not queued twice" 200 "d['repeated']==True and d['msg_id']=='$FIRST'"
N=$("$BIN_AGENT" outbox --dir "$T/police" --json | grep -c "\"case\":\"$CASE-2\"")
check "one outbox entry for the retried send" test "$N" = 1

# ---- each kind of message over HTTP ----
# (the interpreter request and the transfer carry consent to share with an
# interpreter and an NGO only: sent to msdhs they are refused, naming the
# document, before anything is queued)
for t in tip:tip-ngo-police status:status-identification info-request:info-request \
         info-reply:info-reply consent:consent-withdrawn withdrawal:withdrawal \
         response:response-decline interpreter-request:interpreter-request \
         transfer:transfer-msdhs-ngo; do
  type=${t%%:*} doc=${t#*:}
  extra=()
  [ "$type" != tip ] && extra=("reply_to=\"$REF\"")
  req msdhs "$type" "$CASE" "$EX/$doc.json" "${extra[@]}"
  api police POST /v1/messages "$T/req.json"
  case $type in
    interpreter-request|transfer)
      expect "a $type without consent for msdhs: 400 naming the document" 400 \
        'd["error"]["field"]=="document" and "consent" in d["error"]["message"]' ;;
    *) expect "send a $type over HTTP" 201 'len(d["msg_id"])==32' ;;
  esac
done
api police GET "/v1/outbox?limit=1000"
expect "each kind sent is in the outbox" 200 "len([i for i in d['items'] if i['case']=='$CASE'])==8"

# ---- the Unix socket ----
it_agent_stop police
printf '[api]\nlisten = unix:%s/police.sock\n' "$T" > "$T/police/agent.ini"
rm -f "$T/police/api.endpoint"
it_agent_start police
wait_for 10 test -S "$T/police.sock" || fail "no Unix socket"
check "the socket is private (0600)" test "$(stat -c %a "$T/police.sock")" = 600
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$T/police.sock" -H "Authorization: Bearer ${TOKEN[police]}" http://agent/v1/outbox); BODY=$(cat "$T/body")
expect "the API over the Unix socket" 200 "len(d['items'])>=2"
check "the endpoint file names the socket" grep -q "^unix:$T/police.sock" "$T/police/api.endpoint"

check "the audit log verifies" "$BIN_AUDIT" verify --dir "$NET"

# docs/api.yaml: OpenAPI 3 that parses, names every route the agent
# serves, and whose references all resolve
check "docs/api.yaml is OpenAPI 3 YAML with every route" python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert str(d["openapi"]).startswith("3."), d["openapi"]
want = {"/v1/health": {"get"}, "/v1/messages": {"post"}, "/v1/outbox": {"get"},
        "/v1/outbox/{msg_id}": {"get"}, "/v1/inbox": {"get"}, "/v1/inbox/{msg_id}": {"get"},
        "/v1/inbox/{msg_id}/take": {"post"}, "/v1/cases/{case}": {"get"}, "/v1/overdue": {"get"}}
got = {p: set(v) for p, v in d["paths"].items()}
assert got == want, got
def refs(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "$ref": yield v
            else: yield from refs(v)
    elif isinstance(o, list):
        for v in o: yield from refs(v)
for r in refs(d):
    node = d
    for part in r.lstrip("#/").split("/"): node = node[part]
' "$(dirname "$0")/../docs/api.yaml"
it_done
