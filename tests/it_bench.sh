#!/usr/bin/env bash
# Integration test: nrm-bench in a tiny configuration, so that `make bench`
# keeps working. Checks its CSV is well-formed and, independently of
# nrm-bench's own check, that every message it sent arrived exactly once
# (the agents' outboxes and inboxes) and that the audit log verifies.
. "$(dirname "$0")/lib.sh" "$1"
BENCH=$BUILD/tools/nrm-bench
RES=$T/results
WORK=$T/work

out=$("$BENCH" --pairs 2 --messages 200 --loads single,200,max --single-messages 10 \
        --warmup 5 --window 16 --out "$RES" --workdir "$WORK" --keep 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
check "nrm-bench exits 0" test $rc -eq 0
check "nrm-bench reports exactly once" grep -q '^exactly once: 420 sent, 420 in the recipients' <<<"$out"
check "nrm-bench verified the audit log" grep -q '420 ACCEPTED, 420 DELIVERED, 0 refusals' <<<"$out"

check "CSV is well-formed: header, one row per step, numbers in order" python3 - "$RES/nrmbus.csv" <<'PY'
import csv, sys
cols = ("system,round,load,offered_per_s,pairs,window,body_bytes,messages,seconds,"
        "throughput_per_s,accept_p50_ms,accept_p99_ms,accept_p999_ms,accept_max_ms,"
        "inbox_p50_ms,inbox_p99_ms,inbox_p999_ms,inbox_max_ms,handoff_p50_ms,"
        "handoff_p99_ms,handoff_p999_ms,handoff_max_ms,handoff_mean_ms,server_cpu_s,"
        "server_cpu_pct,server_rss_kib,client_cpu_s").split(",")
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == cols, rows[0]
body = rows[1:]
assert [r[2] for r in body] == ["single", "200", "max"], [r[2] for r in body]
for r in body:
    assert len(r) == len(cols), r
    d = dict(zip(cols, r))
    assert d["system"] == "nrmbus"
    v = {k: float(x) for k, x in d.items() if k not in ("system", "load")}
    assert v["messages"] == (10 if d["load"] == "single" else 200), d
    assert v["throughput_per_s"] > 0 and v["seconds"] > 0, d
    assert abs(v["messages"] / v["seconds"] - v["throughput_per_s"]) < 0.01 * v["throughput_per_s"] + 0.1, d
    for lat in ("accept", "inbox", "handoff"):
        p = [v[lat + s] for s in ("_p50_ms", "_p99_ms", "_p999_ms", "_max_ms")]
        assert 0 < p[0] <= p[1] <= p[2] <= p[3], (lat, p)
    # A handoff is done after the receipt and after the inbox commit.
    assert v["handoff_max_ms"] >= v["accept_p50_ms"] and v["handoff_max_ms"] >= v["inbox_p50_ms"], d
    assert v["server_rss_kib"] > 1000 and v["server_cpu_s"] >= 0, d
PY

check "exactly once, seen by the agents' own commands" python3 - "$BIN_AGENT" "$WORK" <<'PY'
import json, subprocess, sys
agent, work = sys.argv[1], sys.argv[2]
total = 0
for i in range(2):
    out = [json.loads(l) for l in subprocess.run([agent, "outbox", "--dir", f"{work}/s{i}", "--json"],
           check=True, capture_output=True, text=True).stdout.splitlines()]
    inb = [json.loads(l) for l in subprocess.run([agent, "inbox", "--dir", f"{work}/r{i}", "--json"],
           check=True, capture_output=True, text=True).stdout.splitlines()]
    assert all(m["state"] == "delivered" for m in out), "not all delivered"
    sent = [m["msg_id"] for m in out]
    got = [m["msg_id"] for m in inb]
    # warm-up 5, then 100 of each 200-message step; pair 0 also sends the 10 single ones
    assert len(set(sent)) == len(sent) == (215 if i == 0 else 205), len(sent)
    assert len(got) == len(set(got)), "a message is in the inbox twice"
    assert set(got) == set(sent), "inbox and outbox differ"
    assert all(len(json.dumps(m["document"], separators=(",", ":"))) == 1024 for m in inb), "body size"
    total += len(sent)
assert total == 420
PY
check "the audit log verifies" "$BIN_AUDIT" verify --dir "$WORK/net"
check "the plot script was written" test -s "$RES/nrmbus-latency.png.gp"
if command -v gnuplot >/dev/null; then
  check "the PNG is a PNG" bash -c "head -c 8 '$RES/nrmbus-latency.png' | od -An -tx1 | grep -q '89 50 4e 47'"
fi

# Idle agents, a preloaded log and restarts, tiny: 5 idle organisations
# enrolled in bulk and kept connected, a log of 3,000 records made once
# into a cache, 2 restarts.
RES2=$T/results2
WORK2=$T/work2
CACHE=$T/preload
out=$("$BENCH" --pairs 1 --messages 50 --loads 100 --warmup 2 --window 8 --idle-agents 5 \
        --preload-log 3000 --preload-cache "$CACHE" --restarts 2 --no-plot \
        --out "$RES2" --workdir "$WORK2" --keep 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
check "nrm-bench with idle agents, a preloaded log and restarts exits 0" test $rc -eq 0
check "the preloaded log was generated into the cache" grep -q '^3000 records generated in' "$CACHE/3000/complete"
check "the 5 idle agents were welcomed" grep -q '^5 idle agents connected (pid [0-9]*, holding the directory): 5 welcomed' <<<"$out"
check "...by Welcomes without the directory they hold" grep -q 'Welcomes with the directory 0, without 5$' <<<"$out"
check "the idle helper saw every Welcome" grep -q 'all 5 idle agents welcomed' "$WORK2/idle.log"
check "its log verifies whole, preloaded part included, and counts the run's records" \
  grep -q -E "^audit log: [0-9]+ records verified; after the 3000 preloaded, 52 ACCEPTED, 52 DELIVERED, 0 refusals" <<<"$out"
check "the 5 idle organisations are enrolled, with the run's own" \
  bash -c "'$BIN_ADMIN' list --dir '$WORK2/net' | grep -c 'bench-i[0-4]' | grep -qx 5"
check "nrm-audit verify agrees" "$BIN_AUDIT" verify --dir "$WORK2/net"
check "scale CSV: start-up and step rows with the broker's memory" python3 - "$RES2/nrmbus-scale.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["load"] for r in rows] == ["start-up", "100"], rows
for r in rows:
    assert r["idle_agents"] == "5" and r["preload_records"] == "3000", r
    rss, hwm = int(r["broker_rss_kib"]), int(r["broker_hwm_kib"])
    assert 1000 < rss <= hwm and int(r["broker_anon_kib"]) + int(r["broker_file_kib"]) <= rss + 4, r
    assert 0 < int(r["broker_lmdb_kib"]) <= int(r["broker_file_kib"]), r
assert float(rows[1]["throughput_per_s"]) > 0
PY
check "restart CSV: two restarts, bound before the first Welcome" python3 - "$RES2/nrmbus-restart.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["restart"] for r in rows] == ["1", "2"], rows
for r in rows:
    assert 0 < float(r["bound_ms"]) <= float(r["welcome_ms"]), r
PY
check "the restarted broker checked the log's head" \
  bash -c "grep -c 'audit log: [0-9]* records; tip, last link, tree of' '$WORK2/broker.log' | grep -qx 3"

# A broken CSV is refused with its line number.
cp "$RES/nrmbus.csv" "$T/bad.csv"
echo "nrmbus,1,max,0,2,16,1024,oops" >> "$T/bad.csv"
out=$("$BENCH" plot --csv "$T/bad.csv" --png "$T/bad.png" 2>&1); rc=$?
check "plot refuses a malformed CSV" test $rc -ne 0
check "...naming the line" grep -q 'bad.csv:5: too few fields' <<<"$out"
out=$("$BENCH" --pairs 0 2>&1); rc=$?
check "bad option refused with status 2" test $rc -eq 2
it_done
