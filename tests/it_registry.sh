#!/usr/bin/env bash
# Integration test of registry administration on a running broker, through
# its admin endpoint: enrollment by a quorum of 2 of 3 administrators,
# double approval, suspension with held deliveries released on resume,
# revocation of an open connection within one second, certificate expiry,
# the routing policy (a message outside it, a malformed policy file, a new
# version), every bad input of issue 3 with its reason; the audit log
# verifies after all of it.
. "$(dirname "$0")/lib.sh" "$1"

"$BIN_ADMIN" init --dir "$NET" --listen tcp://127.0.0.1:0 --admins 3 --quorum 2 > "$T/init.log" 2>&1 \
  || { cat "$T/init.log"; fail "init"; exit 1; }
check "init makes three administrator keys" test -f "$NET/admin.key" -a -f "$NET/admin-2.key" -a -f "$NET/admin-3.key"
it_broker_start
check "the broker opens its admin endpoint" wait_for 5 test -s "$NET/admin.endpoint"

keygen() { # keygen ID TYPE
  "$BIN_AGENT" keygen --dir "$T/$1" --id "$1" --type "$2" --name "Org $1" > "$T/$1.keygen.log" 2>&1 \
    || { cat "$T/$1.keygen.log"; fail "keygen $1"; exit 1; }
}
keygen police police
keygen msdhs msdhs

# ---- quorum: 2 of 3 ----
out=$("$BIN_ADMIN" enroll --dir "$NET" "$T/police/request.nrm" 2>&1); rc=$?
echo "$out"
check "enroll by one administrator succeeds" test $rc -eq 0
check "...through the running broker" grep -q "applied by the running broker" <<<"$out"
check "...and leaves the request pending (1 of 2)" grep -q "APPROVED: 1 of 2 approvals" <<<"$out"
check "no connect file before the quorum" test ! -e "$NET/enrolled/police.connect.ini"
check "list shows the pending request" bash -c "'$BIN_ADMIN' list --dir '$NET' | grep -q 'pending  police .*1 of 2 approvals'"
out=$("$BIN_ADMIN" approve --dir "$NET" police 2>&1); rc=$?
echo "$out"
check "a second approval by the same administrator is refused" test $rc -ne 0
check "...as counted once" grep -q "registry.*already approved 'police' (1 of 2 approvals)" <<<"$out"
out=$("$BIN_ADMIN" approve --dir "$NET" police --key "$NET/admin-2.key" 2>&1); rc=$?
echo "$out"
check "the second administrator's approval meets the quorum" grep -q "quorum met, ENROLLED" <<<"$out"
check "...and writes the connect file" test -s "$NET/enrolled/police.connect.ini"
"$BIN_ADMIN" enroll --dir "$NET" "$T/msdhs/request.nrm" --key "$NET/admin-2.key" > "$T/e2.log" 2>&1
"$BIN_ADMIN" approve --dir "$NET" msdhs --key "$NET/admin-3.key" >> "$T/e2.log" 2>&1
check "msdhs enrolled by administrators 2 and 3" test -s "$NET/enrolled/msdhs.connect.ini"
cp "$NET/enrolled/police.connect.ini" "$T/police/connect.ini"
cp "$NET/enrolled/msdhs.connect.ini" "$T/msdhs/connect.ini"

# ---- bad input: each refused with its reason, nothing changes ----
refused() { # refused DESCRIPTION PATTERN COMMAND...
  local what=$1 pat=$2; shift 2
  local o; o=$("$@" 2>&1); local r=$?
  if [ $r -ne 0 ] && grep -q -- "$pat" <<<"$o"; then ok "$what"; else fail "$what (exit $r: $o)"; fi
}
cp "$T/police/request.nrm" "$T/forged.nrm"
python3 - "$T/forged.nrm" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 3] ^= 0x01; open(p, 'wb').write(bytes(b))
PY
refused "a tampered request is refused" "signature does not verify" "$BIN_ADMIN" enroll --dir "$NET" "$T/forged.nrm"
# Body of one request with the signature of another: signed by a key other than its own.
keygen ngo ngo
keygen other ngo
python3 - "$T/ngo/request.nrm" "$T/other/request.nrm" "$T/crossed.nrm" "$T/badtype.nrm" <<'PY'
import sys
def fields(b):
    out, i = {}, 0
    while i < len(b):
        key = b[i]; i += 1
        n, s = 0, 0
        while True:
            c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
            if c < 0x80: break
        out[key >> 3] = b[i:i + n]; i += n
    return out
def ld(f, v):
    n, enc = len(v), bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        enc.append(c | (0x80 if n else 0))
        if not n: break
    return bytes([f << 3 | 2]) + bytes(enc) + v
a = fields(open(sys.argv[1], 'rb').read()); b = fields(open(sys.argv[2], 'rb').read())
open(sys.argv[3], 'wb').write(ld(1, a[1]) + ld(2, b[2]))
body = a[1].replace(b'\x12\x03ngo', b'\x12\x03spy', 1)
open(sys.argv[4], 'wb').write(ld(1, body) + ld(2, a[2]))
PY
refused "a request signed by another key is refused" "signature does not verify with the key it carries" \
  "$BIN_ADMIN" enroll --dir "$NET" "$T/crossed.nrm"
refused "a request of an unknown type is refused" "unknown organisation type 'spy'" \
  "$BIN_ADMIN" enroll --dir "$NET" "$T/badtype.nrm"
keygen police2 police
"$BIN_AGENT" keygen --dir "$T/dup" --id police --type police --name "Impostor" > /dev/null 2>&1
refused "a duplicate organisation id is refused" "organisation 'police' is already enrolled" \
  "$BIN_ADMIN" enroll --dir "$NET" "$T/dup/request.nrm"
refused "an admin command from a non-administrator key is refused at the endpoint" \
  "refused this key (not an administrator key" "$BIN_ADMIN" suspend --dir "$NET" msdhs --reason x --key "$T/police/secret.keys"
refused "approving what is not pending is refused" "nothing is pending for 'msdhs'" \
  "$BIN_ADMIN" approve --dir "$NET" msdhs --key "$NET/admin-3.key"
check "the refusals are logged as ADMIN_REFUSED" bash -c \
  "'$BIN_AUDIT' export --dir '$NET' --format jsonl | grep -c '\"ADMIN_REFUSED\"' | grep -qv '^0$'"

# ---- traffic, suspension with held deliveries, resume ----
it_agent_start police
it_agent_start msdhs
# documents: it_doc (lib.sh)
send_ok() { # send_ok FROM TO TYPE CASE: prints the message id
  local id
  for i in $(seq 1 100); do
    id=$(it_send "$1" "$2" "$3" "$4" "$(it_doc "$3" "$1" "$2")" 2>/dev/null) && { echo "$id"; return 0; }
    sleep 0.1
  done
  return 1
}
id=$(send_ok police msdhs referral case-1)
check "a referral police -> msdhs is delivered" "$BIN_AGENT" wait --dir "$T/police" --msg "$id" --state delivered --timeout 20
"$BIN_ADMIN" suspend --dir "$NET" msdhs --reason "audit of its office" > "$T/suspend.log" 2>&1
check "suspend msdhs" grep -q "SUSPENDED" "$T/suspend.log"
id2=$(send_ok police msdhs referral case-2)
check "a referral to the suspended msdhs is accepted (held)" "$BIN_AGENT" wait --dir "$T/police" --msg "$id2" --state accepted --timeout 20
sleep 2
check "...and not delivered while msdhs is suspended" bash -c "! '$BIN_AGENT' inbox --dir '$T/msdhs' --id '$id2' >/dev/null 2>&1"
check "show reports the held delivery" bash -c "'$BIN_ADMIN' show --dir '$NET' msdhs | grep -q 'queued        1 delivery (held)'"
check "list shows msdhs suspended" bash -c "'$BIN_ADMIN' list --dir '$NET' | grep -q '^msdhs .* suspended'"
"$BIN_ADMIN" resume --dir "$NET" msdhs > "$T/resume.log" 2>&1
check "resume releases the held delivery" "$BIN_AGENT" wait --dir "$T/police" --msg "$id2" --state delivered --timeout 20

# ---- routing policy ----
id3=$(send_ok msdhs police referral case-3)
"$BIN_AGENT" wait --dir "$T/msdhs" --msg "$id3" --state accepted --timeout 20; rc=$?
check "a referral msdhs -> police (outside the policy) is refused" test $rc -eq 3
check "...with the reason policy" bash -c "'$BIN_AGENT' outbox --dir '$T/msdhs' | grep -q 'policy'"
check "...and logged" bash -c "'$BIN_AUDIT' export --dir '$NET' --format jsonl | grep '\"REJECTED\"' | grep -q '\"reason_code\": *11'"
printf '[policy]\nversion = 2\n[route.msdhs]\nreferral = police\nbogus line\n' > "$T/bad-policy.ini"
refused "a malformed policy file is refused with file and line" "bad-policy.ini:5:" \
  "$BIN_ADMIN" policy --dir "$NET" "$T/bad-policy.ini"
check "...and the running policy stays (version 1)" bash -c "'$BIN_ADMIN' policy --dir '$NET' | head -1 | grep -q 'version 1 '"
sed 's/^version *= *1/version = 2/; s/^referral = ngo labour foreign/referral = ngo labour foreign police/' \
  "$(dirname "$0")/../config/policy.ini" > "$T/policy-v2.ini"
out=$("$BIN_ADMIN" policy --dir "$NET" "$T/policy-v2.ini" 2>&1); echo "$out"
check "policy version 2 is put in force through the broker" grep -q "applied by the running broker" <<<"$out"
refused "an older policy version is refused" "not newer" "$BIN_ADMIN" policy --dir "$NET" "$(dirname "$0")/../config/policy.ini"
id4=$(send_ok msdhs police referral case-4)
check "...and the broker applies it at once: msdhs -> police now delivered" \
  "$BIN_AGENT" wait --dir "$T/msdhs" --msg "$id4" --state delivered --timeout 20

# ---- an administrator withdraws a pending request ----
keygen shelter ngo
"$BIN_ADMIN" enroll --dir "$NET" "$T/shelter/request.nrm" > "$T/shelter.log" 2>&1
check "shelter's request is pending (1 of 2)" grep -q "APPROVED: 1 of 2 approvals" "$T/shelter.log"
refused "cancel needs a reason" "reason TEXT is required" "$BIN_ADMIN" cancel --dir "$NET" shelter --key "$NET/admin-2.key"
out=$("$BIN_ADMIN" cancel --dir "$NET" shelter --reason "sent by mistake" --key "$NET/admin-2.key" 2>&1); echo "$out"
check "cancel withdraws it through the running broker" grep -q "CANCELLED, record .* (applied by the running broker)" <<<"$out"
check "...and nothing is pending for shelter any more" bash -c "! '$BIN_ADMIN' list --dir '$NET' | grep -q 'pending  shelter'"
refused "an approval of the withdrawn request is refused" "nothing is pending for 'shelter'" \
  "$BIN_ADMIN" approve --dir "$NET" shelter --key "$NET/admin-3.key"
refused "cancelling what is not pending is refused" "nothing is pending for 'shelter'" \
  "$BIN_ADMIN" cancel --dir "$NET" shelter --reason again
"$BIN_ADMIN" enroll --dir "$NET" "$T/shelter/request.nrm" --key "$NET/admin-3.key" > "$T/shelter2.log" 2>&1
"$BIN_ADMIN" approve --dir "$NET" shelter --key "$NET/admin-2.key" >> "$T/shelter2.log" 2>&1
check "the same request sent again is enrolled by two new approvals" grep -q "quorum met, ENROLLED" "$T/shelter2.log"
check "show lists the CANCELLED record in shelter's history" bash -c \
  "'$BIN_ADMIN' show --dir '$NET' shelter | grep -q 'CANCELLED .*sent by mistake'"

# ---- revocation of an open connection ----
"$BIN_TESTCLIENT" --org "$T/police" --endpoint "$ENDPOINT" --to msdhs until-refused > "$T/until.txt" 2>>"$T/tc.err" &
tc=$!
wait_for 10 grep -q '^until-refused ok' "$T/until.txt"
# Measured from the moment nrm-admin starts: signing, the admin endpoint,
# the commit and the refusal of the next frame on the open connection.
revoked_at=$(( $(date +%s%N) / 1000000 ))
"$BIN_ADMIN" revoke --dir "$NET" police --reason "unit dissolved" > "$T/revoke.log" 2>&1
wait "$tc"
cat "$T/revoke.log"; tail -2 "$T/until.txt"
refused_at=$(sed -nE 's/^until-refused revoked .* at=([0-9]+)$/\1/p' "$T/until.txt")
check "an open connection of the revoked police is refused with reason revoked" test -n "$refused_at"
[ -n "$refused_at" ] && echo "refused $((refused_at - revoked_at)) ms after nrm-admin revoke started"
check "...within one second" test -n "$refused_at" -a "$(( ${refused_at:-0} - revoked_at ))" -lt 1000
check "revocation is final" bash -c "! '$BIN_ADMIN' resume --dir '$NET' police 2>&1 | grep -q RESUMED"

# ---- expiry, and offline administration of a stopped broker's folder ----
"$BIN_ADMIN" enroll --dir "$NET" "$T/ngo/request.nrm" --valid-seconds 3 > "$T/ngo.log" 2>&1
"$BIN_ADMIN" approve --dir "$NET" ngo --key "$NET/admin-3.key" >> "$T/ngo.log" 2>&1
check "ngo enrolled for 3 seconds" grep -q "quorum met" "$T/ngo.log"
cp "$NET/enrolled/ngo.connect.ini" "$T/ngo/connect.ini"
sleep 3.5
out=$("$BIN_TESTCLIENT" --org "$T/ngo" --endpoint "$ENDPOINT" --to msdhs valid 2>&1)
check "an expired certificate is refused at connection" bash -c "! grep -q '^valid ok' <<<'$out'"
check "list shows it expired" bash -c "'$BIN_ADMIN' list --dir '$NET' | grep -q '^ngo .* expired'"
it_broker_stop
out=$("$BIN_ADMIN" suspend --dir "$NET" msdhs --reason "offline" 2>&1); echo "$out"
check "with the broker stopped, nrm-admin writes the folder" grep -q "written to the folder" <<<"$out"
keygen late ngo
"$BIN_ADMIN" enroll --dir "$NET" "$T/late/request.nrm" > "$T/late.log" 2>&1
out=$("$BIN_ADMIN" cancel --dir "$NET" late --reason "offline withdrawal" 2>&1); echo "$out"
check "offline, cancel withdraws a pending request in the folder" grep -q "CANCELLED, record .* (written to the folder" <<<"$out"
check "...and nothing is pending for late" bash -c "! '$BIN_ADMIN' list --dir '$NET' | grep -q 'pending  late'"
n_refused=$("$BIN_AUDIT" export --dir "$NET" --format jsonl | grep -c '"ADMIN_REFUSED"')
refused "offline too, a non-administrator key is refused" "is not an administrator" \
  "$BIN_ADMIN" resume --dir "$NET" msdhs --key "$T/msdhs/secret.keys"
refused "offline, resuming a revoked organisation is refused" "revocation is final" \
  "$BIN_ADMIN" resume --dir "$NET" police
"$BIN_AUDIT" export --dir "$NET" --format jsonl | grep '"ADMIN_REFUSED"' > "$T/refused.jsonl"
check "offline refusals are logged as ADMIN_REFUSED, as at the endpoint" \
  test "$(wc -l < "$T/refused.jsonl")" -eq $((n_refused + 2))
check "...with their reasons not-admin and registry" bash -c \
  "tail -2 '$T/refused.jsonl' | head -1 | grep -q '\"reason_code\": *18' && tail -1 '$T/refused.jsonl' | grep -q '\"reason_code\": *19'"

out=$("$BIN_AUDIT" verify --dir "$NET" 2>&1); echo "$out"
check "the audit log verifies after all of it" grep -q "^OK" <<<"$out"
it_done
