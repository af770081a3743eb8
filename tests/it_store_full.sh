#!/usr/bin/env bash
# Integration test of a full store. (1) The broker's map limit
# (map_max_mb): new messages are refused with store-full, nothing is lost,
# senders keep them queued, and they are accepted once deliveries free
# space. (2) A really full disk (a small tmpfs under NET/data; needs root
# to mount, else this part is reported as skipped): new messages are
# refused with store-full before the disk runs out (store_reserve_mb), and
# accepted when space returns.
. "$(dirname "$0")/lib.sh" "$1"
MNT=""
umount_small() {
  [ "$BASHPID" = "$$" ] || return 0
  [ -n "$MNT" ] && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
  MNT=""
}
trap 'umount_small; it_cleanup' EXIT

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org prosecutor prosecutor "Office of the Attorney General"
# A 600 KB document (a case file of 37 pieces of evidence of 16,000
# characters): a few of them fill a 16 MiB map.
python3 -c 'import json; print(json.dumps({"request": {"ext_Service": "case file"},
  "case_file": {"ext_Evidence": ["x" * 16000] * 37},
  "consent": {"con_Consent": True, "ext_ConsentToServices": True,
              "ext_ConsentToSharing": ["prosecutor"]}}))' > "$T/big.json"
printf '{"request":{"ext_Service":"store"}}' > "$T/small.json"
sed -i "s/^map_max_mb = .*/map_max_mb = 16/" "$NET/broker.ini"
it_broker_start
it_agent_start police
it_agent_start prosecutor
w=$(send police prosecutor referral case-warmup "$T/small.json")
check "warm-up delivered" state_is police "$w" delivered
it_agent_stop prosecutor

# (1) The recipient is away, so every sealed body stays at the broker.
ids=()
for i in $(seq 1 40); do ids+=("$(send police prosecutor referral case-full "$T/big.json")"); done
check "the broker refuses new messages with store-full" \
  wait_for 60 grep -q "store is full" "$T/police.agent.log"
check "the broker says why" grep -q "store full" "$T/broker.log"
accepted=0; queued=0
for x in "${ids[@]}"; do
  st=$("$BIN_AGENT" outbox --dir "$T/police" --json | grep -F "\"$x\"" | grep -oE '"state":"[a-z_]+"')
  case "$st" in *accepted*) accepted=$((accepted+1));; *queued*) queued=$((queued+1));; esac
done
check "some accepted ($accepted), the rest still queued at the sender ($queued), none refused" \
  test $accepted -gt 0 -a $queued -gt 0 -a $((accepted + queued)) -eq 40
check "the broker still runs" kill -0 "$BROKER_PID"
"$BIN_AUDIT" export --dir "$NET" --format jsonl > "$T/export1.jsonl"
check "store-full refusals are in the log" grep -q '"reason_code":13' "$T/export1.jsonl"
# Deliveries free the bodies: everything gets through.
it_agent_start prosecutor
check "once space is freed, all 40 are accepted and delivered" it_all_state police delivered 180 "${ids[@]}"
dup=$("$BIN_AGENT" inbox --dir "$T/prosecutor" --json | grep -o '"msg_id":"[0-9a-f]*"' | sort | uniq -d | wc -l)
check "each once ($dup duplicates)" test "$dup" -eq 0
check "the log verifies" "$BIN_AUDIT" verify --dir "$NET"

# (2) A small file system under NET/data.
it_broker_stop
it_agent_stop prosecutor
mv "$NET/data" "$NET/data.big"
mkdir "$NET/data"
if mount -t tmpfs -o size=40m tmpfs "$NET/data" 2>"$T/mount.err"; then
  MNT="$NET/data"
  # A compacted copy (mdb_copy -c), so that no free pages of part (1)
  # take the new bodies without growing the file.
  mdb_copy -c "$NET/data.big" "$NET/data" || fail "mdb_copy"
  sed -i 's/^map_max_mb = 16$/map_max_mb = 1024/' "$NET/broker.ini"
  sed -i "s/^store_reserve_mb = .*/store_reserve_mb = 8/" "$NET/broker.ini"
  # Leave about 14 MiB: room for a few bodies, then the reserve.
  avail=$(df -k --output=avail "$NET/data" | tail -1)
  dd if=/dev/zero of="$NET/data/filler" bs=1k count=$((avail - 14 * 1024)) 2>/dev/null
  it_broker_start
  ids=()
  for i in $(seq 1 20); do ids+=("$(send police prosecutor referral case-disk "$T/big.json")"); done
  check "on a nearly full disk the broker refuses with store-full" \
    wait_for 60 grep -q "under the reserve" "$T/broker.log"
  queued=$("$BIN_AGENT" outbox --dir "$T/police" --json | grep case-disk | grep -c '"state":"queued"')
  check "the refused ones wait at the sender ($queued queued)" test "$queued" -gt 0
  check "the broker still runs" kill -0 "$BROKER_PID"
  check "the disk was not filled up (reserve kept)" test "$(df -k --output=avail "$NET/data" | tail -1)" -gt 4096
  rm -f "$NET/data/filler"
  it_agent_start prosecutor
  check "when space returns, all 20 are accepted and delivered" it_all_state police delivered 180 "${ids[@]}"
  check "the log verifies" "$BIN_AUDIT" verify --dir "$NET"

  # (3) The same without a reserve: the disk really fills up (30 bodies
  #     are more than the pages freed by the deliveries of (2)). The write
  #     that does not fit is undone, new messages are refused with
  #     store-full, and everything resumes when space returns.
  it_broker_stop
  it_agent_stop prosecutor
  sed -i "s/^store_reserve_mb = .*/store_reserve_mb = 0/" "$NET/broker.ini"
  it_broker_start
  avail=$(df -k --output=avail "$NET/data" | tail -1)
  dd if=/dev/zero of="$NET/data/filler" bs=1k count=$((avail - 2 * 1024)) 2>/dev/null
  full_before=$(grep -c "store is full" "$T/police.agent.log")
  ids=()
  for i in $(seq 1 30); do ids+=("$(send police prosecutor referral case-enospc "$T/big.json")"); done
  check "with the disk full, new messages are refused with store-full" \
    wait_for 60 bash -c "[ \$(grep -c 'store is full' '$T/police.agent.log') -gt $full_before ]"
  check "the broker says the disk is full" grep -q "the disk is full" "$T/broker.log"
  check "the broker still runs" kill -0 "$BROKER_PID"
  rm -f "$NET/data/filler"
  it_agent_start prosecutor
  check "when space returns, all 30 are accepted and delivered" it_all_state police delivered 180 "${ids[@]}"
  check "the log verifies after a full disk" "$BIN_AUDIT" verify --dir "$NET"
  it_broker_stop
  for o in police prosecutor; do it_agent_stop $o; done
  umount_small
else
  echo "SKIP: cannot mount a small tmpfs ($(cat "$T/mount.err")); only the map limit was tested"
fi
it_done
