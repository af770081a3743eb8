#!/usr/bin/env bash
# The broker's memory with N idle connections, in the folder of a kept
# nrm-bench run (nrm-bench --idle-agents N --keep): docs/performance.md,
# "Memory with 1,000 agents". Prints VmRSS, RssAnon, RssFile and VmHWM of a
# broker started on WORK/net
#   - when it has started, and once the N idle agents (nrm-bench
#     idle-agents) are welcomed;
#   - with MSGS > 0: every 100 of MSGS messages bench-s0 -> bench-r0, one by
#     one, with checkpoint_records = 1 (a checkpoint pushed to every idle
#     agent each time: how the connections' memory grows with age);
#   - with TRIM=1: after gdb calls malloc_trim(0) in the broker, and after
#     the idle agents have gone (again trimmed, with malloc_stats());
#   - FRESH=1: the idle agents hold no directory.
# Extra arguments are environment assignments for the broker
# (GLIBC_TUNABLES=glibc.malloc.arena_max=1). Processes are stopped by pid.
# usage: tools/bench-idle-mem.sh BUILD WORK N [MSGS [VAR=VALUE...]]
set -u
B=${1:?build folder}; W=${2:?kept nrm-bench work folder}; N=${3:?idle agents}; M=${4:-0}
shift 3; [ $# -gt 0 ] && shift
mem() { awk '/VmRSS|VmHWM|RssAnon|RssFile/{printf "%s %s ", $1, $2}' "/proc/$1/status"; echo; }
trim() { [ -n "${TRIM:-}" ] && gdb -p "$1" -batch -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1 \
           && echo "trimmed:   $(mem "$1")"; }
LOG=$W/mem-broker.log
if [ "$M" -gt 0 ]; then
  sed -i 's/^checkpoint_records = .*/checkpoint_records = 1/' "$W/net/broker.ini"
else
  sed -i 's/^checkpoint_records = .*/checkpoint_records = 1000/' "$W/net/broker.ini"
fi
rm -f "$W/net/broker.endpoint" "$W/idle/ready"
env "$@" "$B/broker/nrm-broker" --dir "$W/net" --listen tcp://127.0.0.1:0 --log-level warn > "$LOG" 2>&1 &
BP=$!
for _ in $(seq 100); do [ -s "$W/net/broker.endpoint" ] && break; sleep 0.1; done
EP=$(cat "$W/net/broker.endpoint"); sleep 1
echo "start:     $(mem $BP)"
"$B/tools/nrm-bench" idle-agents --dir "$W/idle" --net "$W/net" --count "$N" --endpoint "$EP" \
  ${FRESH:+--fresh} > "$W/mem-idle.log" 2>&1 &
IP=$!
for _ in $(seq 600); do [ -f "$W/idle/ready" ] && break; sleep 0.1; done
cat "$W/idle/ready"; echo; sleep 5
echo "connected: $(mem $BP)"
trim $BP
if [ "$M" -gt 0 ]; then
  "$B/agents/nrm-agent" run --dir "$W/s0" --endpoint "$EP" --log-level warn > "$W/mem-s0.log" 2>&1 & S0=$!
  "$B/agents/nrm-agent" run --dir "$W/r0" --endpoint "$EP" --log-level warn > "$W/mem-r0.log" 2>&1 & R0=$!
  sleep 2
  printf '{"request":{"ext_Service":"steady"}}' > "$W/mem-doc.json"
  for i in $(seq "$M"); do
    "$B/agents/nrm-agent" send --dir "$W/s0" --to bench-r0 --type referral --case "mem-$i" \
      --file "$W/mem-doc.json" > /dev/null 2>> "$W/mem-send.err"
    sleep 0.05
    [ $((i % 100)) -eq 0 ] && echo "after $i messages: $(mem $BP)"
  done
  sleep 3
  echo "end:       $(mem $BP)"
  trim $BP
  kill -TERM $S0 $R0; wait $S0 $R0
fi
kill -TERM $IP; wait $IP; tail -1 "$W/mem-idle.log"
sleep 2
echo "idle gone: $(mem $BP)"
if trim $BP; then
  gdb -p $BP -batch -ex 'call (void) malloc_stats()' >/dev/null 2>&1; sleep 0.2
  grep -A2 "^Arena\|^Total" "$LOG"
fi
kill -TERM $BP; wait $BP
