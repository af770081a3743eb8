#!/usr/bin/env bash
# Integration test of key rotation (issue 3) on a running broker with a
# quorum of 2 of 3 administrators: `nrm-agent keygen --rotate`, the
# refusals of a rotation request signed by a key other than the one in
# force, tampered, or of a revoked organisation; the old key accepted until
# the first message signed with the new one, then refused with key-retired;
# the running agent switching to its new keys by itself, its outbox entries
# signed with the old key accepted first; a message queued across the
# rotation delivered with the certificate of its signature; a body sealed to
# the old key still opened; a restart with the new keys; the audit log
# verifies, messages signed before the rotation included.
. "$(dirname "$0")/lib.sh" "$1"

"$BIN_ADMIN" init --dir "$NET" --listen tcp://127.0.0.1:0 --admins 3 --quorum 2 > "$T/init.log" 2>&1 \
  || { cat "$T/init.log"; fail "init"; exit 1; }
it_broker_start
keygen() { # keygen ID TYPE
  "$BIN_AGENT" keygen --dir "$T/$1" --id "$1" --type "$2" --name "Org $1" > "$T/$1.keygen.log" 2>&1 \
    || { cat "$T/$1.keygen.log"; fail "keygen $1"; exit 1; }
}
enroll() { # enroll ID: administrators 1 and 2
  "$BIN_ADMIN" enroll --dir "$NET" "$T/$1/request.nrm" > "$T/$1.enroll.log" 2>&1 \
    && "$BIN_ADMIN" approve --dir "$NET" "$1" --key "$NET/admin-2.key" >> "$T/$1.enroll.log" 2>&1 \
    && cp "$NET/enrolled/$1.connect.ini" "$T/$1/connect.ini" \
    || { cat "$T/$1.enroll.log"; fail "enroll $1"; exit 1; }
}
refused() { # refused DESCRIPTION PATTERN COMMAND...
  local what=$1 pat=$2; shift 2
  local o; o=$("$@" 2>&1); local r=$?
  if [ $r -ne 0 ] && grep -q -- "$pat" <<<"$o"; then ok "$what"; else fail "$what (exit $r: $o)"; fi
}
# documents: it_doc (lib.sh)
send_ok() { # send_ok FROM TO TYPE CASE: prints the message id
  local id
  for i in $(seq 1 100); do
    id=$(it_send "$1" "$2" "$3" "$4" "$(it_doc "$3" "$1" "$2")" 2>/dev/null) && { echo "$id"; return 0; }
    sleep 0.1
  done
  return 1
}
for o in police:police msdhs:msdhs ngo:ngo; do keygen "${o%%:*}" "${o##*:}"; enroll "${o%%:*}"; done

# ---- before: traffic with the first keys ----
it_agent_start police
it_agent_start msdhs
id0=$(send_ok police msdhs referral case-r0)
check "police -> msdhs delivered with the first keys" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$id0" --state delivered --timeout 20
tip=$(send_ok msdhs police tip case-r1)
check "msdhs -> police delivered, sealed to police's first box key" \
  "$BIN_AGENT" wait --dir "$T/msdhs" --msg "$tip" --state delivered --timeout 20
it_agent_stop msdhs
it_agent_stop police
# Signed with the old key, still in the outbox when the rotation comes.
queued=$(send_ok police msdhs referral case-r2)
cp -a "$T/police" "$T/police-old"

# ---- the organisation makes its new keys ----
out=$("$BIN_AGENT" keygen --dir "$T/police" --rotate 2>&1); rc=$?
echo "$out"
check "keygen --rotate makes new keys and a rotation request" \
  test $rc -eq 0 -a -s "$T/police/rotate-request.nrm" -a -s "$T/police/secret.keys.next"
check "...the new secret keys kept aside with mode 0600" \
  test "$(stat -c %a "$T/police/secret.keys.next")" = 600
check "...and the keys in force unchanged" cmp -s "$T/police/secret.keys" "$T/police-old/secret.keys"
refused "a second keygen --rotate is refused while one waits" "a rotation is already waiting" \
  "$BIN_AGENT" keygen --dir "$T/police" --rotate

# ---- bad rotation requests: each refused, nothing changes ----
keygen impostor police
sed -i 's/^id = impostor/id = police/' "$T/impostor/org.ini"
"$BIN_AGENT" keygen --dir "$T/imp2" --id police --type police --name "Org police" > /dev/null 2>&1
refused "a rotation request not signed by the key in force is refused" \
  "is not signed by its current signing key" "$BIN_ADMIN" rotate --dir "$NET" "$T/imp2/request.nrm"
cp -a "$T/msdhs" "$T/msdhs-x"
"$BIN_AGENT" keygen --dir "$T/msdhs-x" --rotate > /dev/null 2>&1
# police's request with the countersignature bytes of another key.
python3 - "$T/police/rotate-request.nrm" "$T/msdhs-x/rotate-request.nrm" "$T/crossed.nrm" "$T/tampered.nrm" <<'PY'
import sys
def fields(b):
    out, i = [], 0
    while i < len(b):
        key = b[i]; i += 1
        n, s = 0, 0
        while True:
            c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
            if c < 0x80: break
        out.append((key >> 3, b[i:i + n])); i += n
    return out
def ld(f, v):
    n, enc = len(v), bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        enc.append(c | (0x80 if n else 0))
        if not n: break
    return bytes([f << 3 | 2]) + bytes(enc) + v
a = fields(open(sys.argv[1], 'rb').read()); b = fields(open(sys.argv[2], 'rb').read())
a_cos = dict(fields(dict(a)[3])); b_cos = dict(fields(dict(b)[3]))
cos = ld(1, a_cos[1]) + ld(2, b_cos[2])       # police's old key, another signature
open(sys.argv[3], 'wb').write(ld(1, dict(a)[1]) + ld(2, dict(a)[2]) + ld(3, cos))
raw = bytearray(open(sys.argv[1], 'rb').read()); raw[len(raw) // 4] ^= 0x01
open(sys.argv[4], 'wb').write(bytes(raw))
PY
refused "a rotation request whose countersignature is not the old key's is refused" \
  "the signature of its current key does not verify" "$BIN_ADMIN" rotate --dir "$NET" "$T/crossed.nrm"
refused "a tampered rotation request is refused" "does not verify" \
  "$BIN_ADMIN" rotate --dir "$NET" "$T/tampered.nrm"
"$BIN_AGENT" keygen --dir "$T/ngo" --rotate > "$T/ngo.rotate.log" 2>&1
"$BIN_ADMIN" revoke --dir "$NET" ngo --reason "closed" > "$T/ngo.revoke.log" 2>&1
refused "a rotation of a revoked organisation is refused" "organisation 'ngo' is revoked" \
  "$BIN_ADMIN" rotate --dir "$NET" "$T/ngo/rotate-request.nrm"
check "...and nothing is pending after the refusals" bash -c "! '$BIN_ADMIN' list --dir '$NET' | grep -q '^pending'"

# ---- approval with quorum 2; the old key works until the new one is used ----
# The police agent is stopped: the rotation takes effect while its outbox
# holds a message signed with the old key. A client with the old keys
# sends on one open connection until the broker refuses it; then that
# connection, opened with the retired CURVE key, is refused a Hello too.
"$BIN_TESTCLIENT" --org "$T/police-old" --endpoint "$ENDPOINT" --to msdhs until-refused hello-again \
  > "$T/until.txt" 2>>"$T/tc.err" &
tc=$!
check "the old key is accepted before the rotation" wait_for 10 grep -q '^until-refused ok' "$T/until.txt"
out=$("$BIN_ADMIN" rotate --dir "$NET" "$T/police/rotate-request.nrm" 2>&1); echo "$out"
check "one administrator's approval leaves the rotation pending (1 of 2)" grep -q "APPROVED: 1 of 2" <<<"$out"
refused "the same administrator cannot approve twice" "already approved 'police'" \
  "$BIN_ADMIN" approve --dir "$NET" police
out=$("$BIN_ADMIN" approve --dir "$NET" police --key "$NET/admin-3.key" 2>&1); echo "$out"
check "the second administrator's approval meets the quorum: ROTATED" grep -q "quorum met, ROTATED" <<<"$out"
n_ok=$(grep -c '^until-refused ok' "$T/until.txt")
sleep 0.3
check "...and the old key is still accepted" test "$(grep -c '^until-refused ok' "$T/until.txt")" -gt "$n_ok"
it_agent_start police
check "the agent, started with its old keys, switches to the new ones" \
  wait_for 10 test -s "$T/police/certificate.nrm"
check "...secret.keys now holds the new keys" bash -c \
  "! cmp -s '$T/police/secret.keys' '$T/police-old/secret.keys' && test ! -e '$T/police/secret.keys.next'"
check "...and the old ones are kept in retired/ with mode 0600" bash -c \
  "ls '$T/police/retired/'*.keys >/dev/null && test \$(stat -c %a '$T/police/retired/'*.keys) = 600"
check "the outbox entry signed with the old key is accepted" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$queued" --state accepted --timeout 20
id_new=$(send_ok police msdhs referral case-r3)
check "a message signed with the new key is accepted" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$id_new" --state accepted --timeout 20
wait "$tc"
tail -2 "$T/until.txt"
check "...after which the old key is refused with key-retired" bash -c \
  "grep '^until-refused' '$T/until.txt' | tail -1 | grep -q '^until-refused key-retired'"
check "...and the connection opened with the old CURVE key gets no Welcome any more" \
  grep -q "^hello-again key-retired reason=.*opened with CURVE key .* which a rotation has retired" "$T/until.txt"
check "the log holds KEY_RETIRED" bash -c \
  "'$BIN_AUDIT' export --dir '$NET' --format jsonl | grep -q '\"KEY_RETIRED\"'"

# ---- deliveries queued across the rotation ----
it_agent_start msdhs
check "a message signed with the old key, queued while it was retired, is delivered" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$queued" --state delivered --timeout 30
check "so is the one signed with the new key" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$id_new" --state delivered --timeout 30
check "...and msdhs refused none of them" bash -c \
  "! '$BIN_AUDIT' export --dir '$NET' --format jsonl | grep -q '\"DELIVERY_REFUSED\"'"
check "a body sealed to police's old box key still opens" \
  bash -c "'$BIN_AGENT' inbox --dir '$T/police' --id '$tip' > /dev/null"
tip2=$(send_ok msdhs police tip case-r4)
check "msdhs -> police after the rotation is delivered (sealed to the new key)" \
  "$BIN_AGENT" wait --dir "$T/msdhs" --msg "$tip2" --state delivered --timeout 20

# ---- a running agent switches when the broker pushes its new certificate ----
"$BIN_AGENT" keygen --dir "$T/msdhs" --rotate > "$T/msdhs.rotate.log" 2>&1
"$BIN_ADMIN" rotate --dir "$NET" "$T/msdhs/rotate-request.nrm" --key "$NET/admin-2.key" > "$T/msdhs.r.log" 2>&1
"$BIN_ADMIN" approve --dir "$NET" msdhs --key "$NET/admin-3.key" >> "$T/msdhs.r.log" 2>&1
check "msdhs rotated by administrators 2 and 3" grep -q "quorum met, ROTATED" "$T/msdhs.r.log"
check "the rotation reaches the connected police agent as a delta: msdhs's new certificate only" \
  wait_for 10 grep -qE "directory update [0-9a-f]{16} -> [0-9a-f]{16} applied: 1 certificates, 0 removed" \
  "$T/police.agent.log"
check "...and the rotated msdhs agent finds its own new certificate in the delta" \
  wait_for 10 grep -qE "directory update [0-9a-f]{16} -> [0-9a-f]{16} applied: 1 certificates, 0 removed" \
  "$T/msdhs.agent.log"
check "...the broker sent the delta, not the whole directory" \
  bash -c "grep -q 'directory change (.* bytes) sent to 2 connected' '$T/broker.log' && ! grep -q 'certificate in force: directory' '$T/broker.log'"
check "the running msdhs agent switches to its new keys without a restart" \
  wait_for 10 test -s "$T/msdhs/certificate.nrm"
check "...reconnecting with its new CURVE key" wait_for 10 grep -q "key rotation: certificate serial" \
  "$T/msdhs.agent.log"
id_m=$(send_ok police msdhs referral case-r6)
check "police -> msdhs after msdhs rotated is delivered (sealed to the key the delta brought)" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$id_m" --state delivered --timeout 20
tip3=$(send_ok msdhs police tip case-r7)
check "msdhs -> police signed with msdhs's new key is delivered" \
  "$BIN_AGENT" wait --dir "$T/msdhs" --msg "$tip3" --state delivered --timeout 20

# ---- a restart picks the new keys ----
it_agent_stop police
it_agent_start police
id_after=$(send_ok police msdhs referral case-r5)
check "after a restart police sends with its new keys" \
  "$BIN_AGENT" wait --dir "$T/police" --msg "$id_after" --state delivered --timeout 20
it_broker_stop
out=$("$BIN_AUDIT" verify --dir "$NET" 2>&1); echo "$out"
check "the audit log verifies, messages signed before the rotation included" grep -q "^OK" <<<"$out"
it_done
