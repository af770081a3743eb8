#!/usr/bin/env bash
# Integration test of the auditor's toolkit with real processes: the broker
# signs checkpoints, nrm-audit prints them, proves a handoff and the
# consistency of two checkpoints, checks both offline (and refuses a flipped
# byte), exports, imports into a fresh folder with no broker and verifies
# there, draws a case; agents check each checkpoint they receive and report
# a forked log.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
# Checkpoints every 4 records or 1 second, so the test sees several.
sed -i 's/^checkpoint_records = .*/checkpoint_records = 4/; s/^checkpoint_seconds = .*/checkpoint_seconds = 1/' "$NET/broker.ini"
# A copy of the network before any traffic: later, a forked history.
cp -a "$NET" "$T/net-fork"
it_broker_start
for o in police msdhs; do it_agent_start $o; done


printf '{"request":{"ext_Service":"shelter"}}' > "$T/doc.json"
ids=()
for n in 1 2 3 4 5 6; do ids+=("$(send police msdhs referral case-audit-1 "$T/doc.json")"); done
check "six handoffs delivered" state_is police "${ids[5]}" delivered
sleep 2.5     # the broker signs the last records within checkpoint_seconds

# 1. The latest checkpoint is a C2SP signed note of the broker's key.
"$BIN_AUDIT" checkpoint --dir "$NET" > "$T/ckpt.txt" 2> "$T/ckpt.err"
check "checkpoint printed" grep -q '^nrmbus/demo$' "$T/ckpt.txt"
check "checkpoint is signed" grep -q '^— nrmbus/demo ' "$T/ckpt.txt"
"$BIN_AUDIT" checkpoint --dir "$NET" --json > "$T/ckpt.json"
SIZE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tree_size"])' "$T/ckpt.json")
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["broker_key"])' "$T/ckpt.json")
check "broker key is the one agents hold" grep -q "sign_public = $KEY" "$T/police/connect.ini"
check "checkpoint covers the traffic" test "$SIZE" -ge 15

# 2. Inclusion proof of one handoff (the ACCEPTED record of the first message).
SEQ=$("$BIN_AUDIT" case --dir "$NET" case-audit-1 --json | python3 -c '
import json,sys
rows=json.load(sys.stdin)
rows=rows.get("records", rows) if isinstance(rows, dict) else rows
print([r["seq"] for r in rows if r["kind"]=="ACCEPTED"][0])')
check "prove writes a proof" "$BIN_AUDIT" prove --dir "$NET" "$SEQ" --out "$T/proof.json"
check "check-proof with the broker key" bash -c "'$BIN_AUDIT' check-proof '$T/proof.json' --broker-key $KEY | grep -q '^OK: record $SEQ (ACCEPTED by police)'"
check "check-proof with a connect.ini as key" "$BIN_AUDIT" check-proof "$T/proof.json" --broker-key "$T/msdhs/connect.ini"
python3 - "$T/proof.json" "$T/proof-bad.json" "$T/proof-badpath.json" <<'PY'
import base64, json, sys
p = json.load(open(sys.argv[1]))
raw = bytearray(base64.b64decode(p["record"])); raw[len(raw) // 2] ^= 1
q = dict(p, record=base64.b64encode(bytes(raw)).decode()); json.dump(q, open(sys.argv[2], "w"))
path = list(p["path"]); path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
json.dump(dict(p, path=path), open(sys.argv[3], "w"))
PY
check "a flipped byte in the record fails" bash -c "! '$BIN_AUDIT' check-proof '$T/proof-bad.json' --broker-key $KEY"
check "a changed path hash fails" bash -c "! '$BIN_AUDIT' check-proof '$T/proof-badpath.json' --broker-key $KEY"
OTHER=$(printf '%064d' 7)
check "another key fails" bash -c "! '$BIN_AUDIT' check-proof '$T/proof.json' --broker-key $OTHER"

# 3. Consistency between the first and the latest checkpoint.
FIRST=$("$BIN_AUDIT" export --dir "$NET" | python3 -c '
import json,sys
print([json.loads(l)["seq"] - 1 for l in sys.stdin if json.loads(l)["kind"] == "CHECKPOINT"][0])')
check "consistency proof written" "$BIN_AUDIT" consistency --dir "$NET" "$FIRST" "$SIZE" --out "$T/cons.json"
check "check-consistency" bash -c "'$BIN_AUDIT' check-consistency '$T/cons.json' --broker-key $KEY | grep -q '^OK'"
python3 - "$T/cons.json" "$T/cons-bad.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); path = p["path"]; path[-1] = path[-1][::-1]
json.dump(p, open(sys.argv[2], "w"))
PY
check "a tampered consistency proof fails" bash -c "! '$BIN_AUDIT' check-consistency '$T/cons-bad.json' --broker-key $KEY"

# 4. Export, import in a fresh folder (no keys, no broker), verify, prove there.
"$BIN_AUDIT" export --dir "$NET" --out "$T/audit.jsonl" 2>/dev/null
mkdir -p "$T/fresh"
check "import into a fresh folder" "$BIN_AUDIT" import --dir "$T/fresh/net" "$T/audit.jsonl"
check "verify the imported log" bash -c "'$BIN_AUDIT' verify --dir '$T/fresh/net' | grep -q '^OK: .* chain, tree and signatures intact'"
check "verify the broker's folder" bash -c "'$BIN_AUDIT' verify --dir '$NET' | grep -q 'checkpoints'"
check "prove from the imported log" "$BIN_AUDIT" prove --dir "$T/fresh/net" "$SEQ" --size "$SIZE" --out "$T/proof2.json"
check "same proof from either folder" cmp -s "$T/proof.json" "$T/proof2.json"
check "check the proof from the import" "$BIN_AUDIT" check-proof "$T/proof2.json" --broker-key "$KEY"
# A byte changed in the export is caught by verify after import.
python3 - "$T/audit.jsonl" "$T/audit-bad.jsonl" "$SEQ" <<'PY'
import base64, json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["seq"] == int(sys.argv[3]) + 1:
        raw = bytearray(base64.b64decode(o["record"])); raw[-3] ^= 1
        o["record"] = base64.b64encode(bytes(raw)).decode()
    out.write(json.dumps(o) + "\n")
PY
"$BIN_AUDIT" import --dir "$T/fresh/bad" "$T/audit-bad.jsonl" 2>/dev/null
check "tampered export fails verify at that record" bash -c "'$BIN_AUDIT' verify --dir '$T/fresh/bad' | grep -q '^FAILED at seq $((SEQ + 1))'"

# 4b. The case timeline: every step verified, as text, JSON and a picture.
"$BIN_AUDIT" case --dir "$NET" case-audit-1 --svg "$T/case.svg" > "$T/case.txt"
check "every step of the case verified" bash -c "test \$(grep -c 'verified: signed, in the signed checkpoint' '$T/case.txt') -eq 12"
check "case JSON says where each step is proved" bash -c "'$BIN_AUDIT' case --dir '$NET' case-audit-1 --json | grep -q '\"in_checkpoint\": $SIZE'"
check "case SVG is well-formed XML with a lane per organisation and 12 steps" python3 - "$T/case.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg"
texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
assert "police" in texts and "msdhs" in texts, texts
steps = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "step"]
assert len(steps) == 12, len(steps)
marks = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "mark"]
assert all("verified" in m.find("s:title", ns).text for m in marks), "unverified step"
PY

# 5. Agents hold the latest checkpoint and accepted each one by its proof.
trusted_size() { "$BIN_AGENT" checkpoint --dir "$T/$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["trusted"]["tree_size"])'; }
check "police agent trusts a checkpoint, no alarm" "$BIN_AGENT" checkpoint --dir "$T/police"
check "msdhs agent trusts a checkpoint, no alarm" "$BIN_AGENT" checkpoint --dir "$T/msdhs"
check "agents checked consistency proofs" grep -q "accepted: it extends the one of" "$T/police.agent.log"
wait_for 10 test "$(trusted_size police)" -ge "$SIZE"
TRUSTED=$(trusted_size police)
check "police trusts the latest checkpoint" test "$TRUSTED" -ge "$SIZE"

# 6. A forked log: the broker restarts on a copy of its folder taken before
#    the traffic (same keys, same port) and writes a different history.
it_broker_stop
mv "$NET" "$T/net-orig"
mv "$T/net-fork" "$NET"
it_broker_start
check "rollback reported by the agent" wait_for 20 grep -q "INCONSISTENT CHECKPOINT.*rolled back" "$T/police.agent.log"
for n in $(seq 1 12); do send police msdhs referral case-fork "$T/doc.json" > /dev/null; done
check "forked history reported by the agent" wait_for 30 grep -q "INCONSISTENT CHECKPOINT.*does not extend" "$T/police.agent.log"
"$BIN_AGENT" checkpoint --dir "$T/police" > "$T/police.ckpt" ; rc=$?
check "nrm-agent checkpoint exits 4 after an alarm" test "$rc" -eq 4
check "alarm lists the rollback" grep -q "^INCONSISTENT checkpoint received .*rolled back" "$T/police.ckpt"
check "alarm lists the fork" grep -q "^INCONSISTENT checkpoint received .*does not extend" "$T/police.ckpt"
check "the old checkpoint stays trusted" test "$(trusted_size police)" -eq "$TRUSTED"
# The forked log verifies on its own; the checkpoint an agent kept exposes it.
"$BIN_AGENT" checkpoint --dir "$T/msdhs" --json > "$T/msdhs.ckpt.json" || true
python3 -c 'import json,sys; open(sys.argv[2],"w").write(json.load(open(sys.argv[1]))["trusted"]["note"])' "$T/msdhs.ckpt.json" "$T/kept.note"
check "forked log verifies alone" bash -c "'$BIN_AUDIT' verify --dir '$NET' | grep -q '^OK'"
check "forked log fails against a kept checkpoint" bash -c "'$BIN_AUDIT' verify --dir '$NET' --checkpoint '$T/kept.note' | grep -q '^FAILED at seq .*not the one of the trusted checkpoint'"
check "original log passes against it" bash -c "'$BIN_AUDIT' verify --dir '$T/net-orig' --checkpoint '$T/kept.note' | grep -q '^OK'"

it_done
