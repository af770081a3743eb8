#!/usr/bin/env bash
# The scale runs of docs/performance.md ("1,000 agents and a ten-million-
# record log"): in each round, one after the other, nrm-bench with
#   plain    P pairs, nothing else                         (2P agents)
#   idle     P pairs and IDLE idle agents                  (2P + IDLE agents)
#            that hold the broker's directory (as after a broker restart)
#   fresh    the same, the idle agents holding no directory yet (their first
#            connection: every Welcome carries the whole directory)
#   preload  P pairs on a log preloaded with PRELOAD records, then RESTARTS
#            broker restarts timed
# and, when BASE_BIN is set (a build folder, or a folder of links
# broker/ agents/ tools/ to compare another broker), the same with it.
# Results: OUT/<config>/nrmbus.csv, nrmbus-scale.csv, nrmbus-restart.csv, and
# the medians printed at the end.
# usage: tools/bench-scale.sh BUILD_DIR OUT_DIR
set -eu
B=${1:?build folder}; OUT=${2:?results folder}
ROUNDS=${NRM_SCALE_ROUNDS:-3}
P=${NRM_SCALE_PAIRS:-5}
IDLE=${NRM_SCALE_IDLE:-990}
PRELOAD=${NRM_SCALE_PRELOAD:-10000000}
RESTARTS=${NRM_SCALE_RESTARTS:-5}
MAX=${NRM_SCALE_MAX:-20000}
CACHE=${NRM_SCALE_CACHE:-${TMPDIR:-/tmp}/nrm-bench-preload}
CONFIGS=${NRM_SCALE_CONFIGS:-plain idle fresh preload}   # a subset: e.g. "plain idle"
mkdir -p "$OUT"
run() {   # name bin extra-options...
  local name=$1 bin=$2; shift 2
  echo "== round $r: $name"
  "$B/tools/nrm-bench" --bin "$bin" --pairs "$P" --loads max --max-messages "$MAX" \
    --warmup 20 --no-plot --no-verify --round "$r" --preload-cache "$CACHE" \
    --out "$OUT/$name" "$@" | grep -E '^(nrmbus|broker memory|restart|preload|enrolled|[0-9]+ idle)'
}
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    for v in new ${BASE_BIN:+base}; do
      bin=$B; [ "$v" = base ] && bin=$BASE_BIN
      case $c in
        plain)   run "$c-$v" "$bin" ;;
        idle)    run "$c-$v" "$bin" --idle-agents "$IDLE" ;;
        fresh)   run "$c-$v" "$bin" --idle-agents "$IDLE" --idle-fresh ;;
        preload) run "$c-$v" "$bin" --preload-log "$PRELOAD" --restarts "$RESTARTS" ;;
      esac
    done
  done
done
python3 - "$OUT" <<'PY'
import csv, glob, os, statistics, sys
out = sys.argv[1]
print("\nmedians over the rounds (max step)")
print("config           rounds  handoffs/s  broker VmRSS MiB  VmHWM MiB  anon MiB  file MiB  (LMDB map)")
for d in sorted(glob.glob(os.path.join(out, "*"))):
    f = os.path.join(d, "nrmbus-scale.csv")
    if not os.path.exists(f):
        continue
    rows = [r for r in csv.DictReader(open(f)) if r["load"] == "max"]
    if not rows:
        continue
    med = lambda k: statistics.median(float(r[k]) for r in rows)
    print(f"{os.path.basename(d):16s} {len(rows):6d} {med('throughput_per_s'):11.0f} "
          f"{med('broker_rss_kib')/1024:17.1f} {med('broker_hwm_kib')/1024:10.1f} "
          f"{med('broker_anon_kib')/1024:9.1f} {med('broker_file_kib')/1024:9.1f}"
          f"  ({med('broker_lmdb_kib')/1024:.1f})" if 'broker_lmdb_kib' in rows[0] else "")
    rf = os.path.join(d, "nrmbus-restart.csv")
    if os.path.exists(rf):
        rr = list(csv.DictReader(open(rf)))
        b = statistics.median(float(r["bound_ms"]) for r in rr)
        w = statistics.median(float(r["welcome_ms"]) for r in rr)
        print(f"{'':16s} restarts: {len(rr)}, median exec->bound {b:.1f} ms, exec->first Welcome "
              f"{w:.1f} ms, max {max(float(r['welcome_ms']) for r in rr):.1f} ms")
PY
