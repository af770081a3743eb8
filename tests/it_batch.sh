#!/usr/bin/env bash
# Integration test: batch signatures end to end. nrm-bench with
# --send-batch auto makes each sender store many messages in one send (one
# outbox commit, one signature over their envelopes); the broker signs the
# receipts of each group commit together, and each recipient the acks of
# each inbox commit. Checks that batches were made at all three places,
# that every message arrived exactly once, that `nrm-audit verify` accepts
# the log (every ACCEPTED and DELIVERED record verifiable alone, with the
# proof it keeps), and that in a copied log a record whose proof was changed
# (and the chain after it rebuilt, so that only the signature can tell)
# fails verification at that record, naming the batch signature.
# Sealed bodies (format 2, docs/protocol.md 3): the messages under one
# batch signature share one ephemeral key, which no other batch uses, each
# under its own counter, and the recipients opened every one.
. "$(dirname "$0")/lib.sh" "$1"
BENCH=$BUILD/tools/nrm-bench
WORK=$T/work
N=400

out=$("$BENCH" --pairs 2 --window 32 --send-batch auto --loads max --max-messages $N \
        --warmup 0 --no-plot --out "$T/results" --workdir "$WORK" --keep 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
check "nrm-bench --send-batch auto exits 0" test $rc -eq 0
check "send batch auto is reported" grep -q 'send batch auto' <<<"$out"
check "exactly once" grep -q "^exactly once: $N sent, $N in the recipients' inboxes, 0 missing, 0 twice" <<<"$out"
check "the audit log verifies" bash -c "'$BIN_AUDIT' verify --dir '$WORK/net' | grep -q '^OK: '"

"$BIN_AUDIT" export --dir "$WORK/net" --out "$T/log.jsonl" 2>/dev/null
check "envelopes and acks were batch-signed, each record with its own proof" python3 - "$T/log.jsonl" "$N" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
acc = [r for r in recs if r["kind"] == "ACCEPTED"]
dlv = [r for r in recs if r["kind"] == "DELIVERED"]
assert len(acc) == n and len(dlv) == n, (len(acc), len(dlv))
for kind, rs in (("ACCEPTED", acc), ("DELIVERED", dlv)):
    batched = [r for r in rs if "batch" in r]
    assert len(batched) > n // 2, (kind, len(batched))
    for r in batched:
        b = r["batch"]
        assert 2 <= b["size"] <= 256 and 0 <= b["index"] < b["size"], b
        assert all(len(h) == 64 for h in b["path"]), b
    # one signature per batch: records sharing a signature share its size
    by_sig = {}
    for r in batched:
        by_sig.setdefault(r["signature"], set()).add((r["batch"]["size"], r["batch"]["index"]))
    assert any(len(v) > 1 for v in by_sig.values()), kind
    for sig, items in by_sig.items():
        assert len({s for s, _ in items}) == 1, (kind, items)
    # direct signatures (batches of one) have no proof
    for r in rs:
        assert "batch" in r or r.get("signature"), r
PY

check "the senders kept batch-signed receipts" python3 - "$BIN_AGENT" "$WORK" <<'PY'
import json, subprocess, sys
agent, work = sys.argv[1], sys.argv[2]
batched = 0
for i in range(2):
    out = [json.loads(l) for l in subprocess.run([agent, "outbox", "--dir", f"{work}/s{i}", "--json"],
           check=True, capture_output=True, text=True).stdout.splitlines()]
    assert all("receipt" in m and "receipt_error" not in m for m in out), "a receipt is missing"
    assert all(m["state"] == "delivered" for m in out)
    batched += sum(1 for m in out if "batch" in m["receipt"])
assert batched > 0, "no receipt was signed in a batch"
PY

check "each batch's bodies share one ephemeral key, unique to the batch, and open" \
  python3 - "$BIN_AGENT" "$WORK" "$N" <<'PY'
import collections, json, subprocess, sys
agent, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def inbox(folder):
    """(signature, sealed body) of each inbox record (agent_store.h, format 1)."""
    dump = subprocess.run(["mdb_dump", "-s", "inbox", folder + "/data"], check=True,
                          capture_output=True, text=True).stdout
    rows = [l for l in dump.split("HEADER=END\n", 1)[1].splitlines() if l.startswith(" ")]
    for hexval in rows[1::2]:
        v = bytes.fromhex(hexval.strip())
        assert v[0] == ord("I") and v[1] == 1, v[:4]
        i, fs = 4 + 8 + 8 + 16, []
        for _ in range(4):
            k = int.from_bytes(v[i:i + 4], "big"); i += 4
            fs.append(v[i:i + k]); i += k
        yield fs[1][:64], fs[3]
total, epks, shared = 0, set(), 0
for r in ("r0", "r1"):
    batches = collections.defaultdict(list)
    for sig, body in inbox(f"{work}/{r}"):
        assert body[31] & 0x80 and body[32] == 2, "not a format 2 body: %s" % body[:33].hex()
        batches[sig].append(body)
        total += 1
    for bodies in batches.values():
        keys = {b[:32] for b in bodies}
        assert len(keys) == 1, "one batch, %d ephemeral keys" % len(keys)
        counters = [b[33:37] for b in bodies]
        assert len(set(counters)) == len(counters), "a counter repeats under one key"
        assert not keys & epks, "an ephemeral key used by two batches"
        epks |= keys
        shared += len(bodies) > 1
    docs = [json.loads(l) for l in subprocess.run([agent, "inbox", "--dir", f"{work}/{r}", "--json"],
            check=True, capture_output=True, text=True).stdout.splitlines()]
    assert all(isinstance(d.get("document"), dict) for d in docs), "a body did not open"
assert total == n, total
assert shared > 0, "no batch of more than one message"
PY

# A copied log with one proof changed: flip a bit of the first path hash of
# record SEQ, then rebuild every prev_hash after it, so that the chain and
# the tip are intact and only the signature can catch the change.
tamper() { # tamper KIND OUT: prints the seq changed
  python3 - "$T/log.jsonl" "$2" "$1" <<'PY'
import base64, hashlib, json, sys
src, dst, kind = sys.argv[1], sys.argv[2], sys.argv[3]

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return v, i

def fields(b):
    """(field number, wire type, start of value, end of value) of each field."""
    i = 0
    while i < len(b):
        tag, i = varint(b, i)
        f, wt = tag >> 3, tag & 7
        if wt == 0:
            _, j = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            j = i + n
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, i, j
        i = j

lines = [json.loads(l) for l in open(src)]
target = next(o for o in lines if o.get("kind") == kind and "batch" in o)
prev = None
for o in lines:
    raw = bytearray(base64.b64decode(o["record"]))
    if o["seq"] == target["seq"]:
        f14 = next((s, e) for f, wt, s, e in fields(raw) if f == 14)
        path = next((s, e) for f, wt, s, e in fields(raw[f14[0]:f14[1]]) if f == 3)
        raw[f14[0] + path[0]] ^= 0x01
    if prev is not None and o["seq"] > target["seq"]:
        f4 = next((s, e) for f, wt, s, e in fields(raw) if f == 4)
        raw[f4[0]:f4[1]] = hashlib.sha256(b"\0" + prev).digest()
    prev = bytes(raw)
    o["record"] = base64.b64encode(prev).decode()
with open(dst, "w") as out:
    for o in lines:
        out.write(json.dumps(o) + "\n")
print(target["seq"])
PY
}
for kind in ACCEPTED DELIVERED; do
  seq=$(tamper $kind "$T/bad-$kind.jsonl")
  "$BIN_AUDIT" import --dir "$T/bad-$kind" "$T/bad-$kind.jsonl" > /dev/null 2>&1
  out=$("$BIN_AUDIT" verify --dir "$T/bad-$kind" 2>&1); rc=$?
  echo "  $kind: $out" | head -2
  check "$kind record $seq with a changed proof fails verification" test $rc -eq 1
  check "...at that record, naming its batch signature" \
    grep -q "^FAILED at seq $seq: record $seq: $kind: .*signature of .* does not verify (batch signature, item [0-9]* of [0-9]*)" <<<"$out"
done
# and the untouched export still verifies after the same import
"$BIN_AUDIT" import --dir "$T/good" "$T/log.jsonl" > /dev/null 2>&1
check "the unchanged copy verifies" bash -c "'$BIN_AUDIT' verify --dir '$T/good' | grep -q '^OK: '"
it_done
