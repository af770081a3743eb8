#!/usr/bin/env bash
# Integration test: administration and audit commands, and their refusals
# of bad input with clear reasons.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
check "a second init of the same folder is refused" bash -c "! '$BIN_ADMIN' init --dir '$NET' > '$T/init2.out' 2>&1"
it_org police police "Provincial Police Anti-Trafficking Unit"
out=$("$BIN_ADMIN" enroll --dir "$NET" "$T/police/request.nrm" 2>&1); rc=$?
check "enrolling twice is refused" test $rc -ne 0
check "...saying so" grep -q "already enrolled" <<<"$out"

# A request whose bytes were changed after signing.
cp "$T/police/request.nrm" "$T/forged.nrm"
python3 - "$T/forged.nrm" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 3] ^= 0x01; open(p, 'wb').write(bytes(b))
PY
out=$("$BIN_ADMIN" enroll --dir "$NET" "$T/forged.nrm" 2>&1); rc=$?
check "a forged request is refused" test $rc -ne 0
echo "  $out" | head -2
head -c 100 /dev/urandom > "$T/junk.nrm"
check "a junk request is refused" bash -c "! '$BIN_ADMIN' enroll --dir '$NET' '$T/junk.nrm' >/dev/null 2>&1"
check "list shows the organisation" bash -c "'$BIN_ADMIN' list --dir '$NET' | grep -q police"

# Config errors are refused with file, line and reason.
cp "$NET/broker.ini" "$T/broker.ini.good"
printf 'colour = blue\n' >> "$NET/broker.ini"
out=$("$BIN_BROKER" --dir "$NET" 2>&1); rc=$?
check "broker refuses an unknown config key" test $rc -ne 0
line=$(wc -l < "$T/broker.ini.good"); line=$((line + 1))
check "...naming file, line and key" grep -q "broker.ini:$line: unknown key 'colour'" <<<"$out"
cp "$T/broker.ini.good" "$NET/broker.ini"

check "verify passes" "$BIN_AUDIT" verify --dir "$NET"
check "case with no records exits 1" bash -c "'$BIN_AUDIT' case --dir '$NET' case-none >/dev/null 2>&1; [ \$? -eq 1 ]"
# Genesis, policy, police's request, approval, enrollment, then the
# second enrollment refused and logged on the folder (the forged and junk
# files are refused by nrm-admin before it signs any command).
check "export is one JSON object per record" bash -c \
  "'$BIN_AUDIT' export --dir '$NET' --format jsonl | python3 -c 'import json,sys; n=[json.loads(l) for l in sys.stdin]; assert [r[\"seq\"] for r in n]==list(range(1,7)); assert n[5][\"kind\"]==\"ADMIN_REFUSED\"'"
check "keygen refuses an unknown organisation type" bash -c \
  "! '$BIN_AGENT' keygen --dir '$T/x' --id x --type spy --name X >/dev/null 2>&1"
it_done
