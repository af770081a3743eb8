#!/usr/bin/env bash
# Integration test: the agent daemon's wake-up socket ORG/agent.wake
# (agents/agent_wake.h). It exists, mode 0600, while the daemon runs, and
# `send` pokes it; garbage and a flood do not break the daemon; a socket
# file left by a daemon killed with SIGKILL neither stops a send nor the
# next daemon; a send while no daemon runs is delivered after it starts;
# anything else at that path is refused at start with a clear message.
# Behaviour only: nothing here is timed (the latency is nrm-bench's job).
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Provincial Police Anti-Trafficking Unit"
it_org msdhs msdhs "MSDHS Provincial Office"
it_broker_start
printf '[log]\nlevel = debug\n' > "$T/police/agent.ini"
it_agent_start police
it_agent_start msdhs
W=$T/police/agent.wake
DOC=$(it_doc referral police msdhs)

# 1. The socket of a running daemon, and the poke of a send.
check "wake-up socket exists while the daemon runs" wait_for 10 test -S "$W"
check "wake-up socket is mode 0600" test "$(stat -c %a "$W")" = 600
id=$(send police msdhs referral case-wake-1 "$DOC")
check "message delivered" state_is police "$id" delivered
check "the daemon read the poke of the send" grep -q "outbox poked" "$T/police.agent.log"

# 2. Garbage of every size and a flood of datagrams, as any process of the
#    organisation's user could send: read and dropped.
sent=$(python3 - "$W" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
sent = 0
for i in range(20000):
    try:
        s.sendto(os.urandom(i % 3000), sys.argv[1])
        sent += 1
    except BlockingIOError:
        pass
print(sent)
PY
)
check "the flood reached the socket ($sent datagrams)" test "${sent:-0}" -gt 0
check "daemon alive after garbage and a flood" kill -0 "${AGENT_PID[police]}"
id=$(send police msdhs referral case-wake-2 "$DOC")
check "delivered after the flood" state_is police "$id" delivered

# 3. Many sends in a row: their pokes coalesce, every message goes out.
ids=()
for n in $(seq 1 20); do ids+=("$(send police msdhs referral case-wake-burst "$DOC")"); done
check "a burst of 20 sends delivered" it_all_state police delivered 30 "${ids[@]}"

# 4. SIGKILL leaves the socket file: a send still succeeds (its poke is
#    refused, quietly), and the next daemon replaces the file and sends it.
it_agent_stop police KILL
check "a killed daemon leaves its socket file" test -S "$W"
id=$(it_send police msdhs referral case-wake-3 "$DOC" 2>"$T/send3.err" | grep -oE '[0-9a-f]{32}' | head -1)
check "send succeeds with a stale socket and no daemon" test -n "$id"
check "send says nothing about the poke" bash -c "! grep -qiE 'wake|poke|refused' '$T/send3.err'"
it_agent_start police
check "the next daemon starts over the stale file and sends" state_is police "$id" delivered
check "its socket is mode 0600 again" test "$(stat -c %a "$W")" = 600

# 5. A clean stop removes the socket; a send without a daemon is kept and
#    goes out when one starts.
it_agent_stop police
check "socket removed when the daemon stops" test ! -e "$W"
id=$(it_send police msdhs referral case-wake-4 "$DOC" | grep -oE '[0-9a-f]{32}' | head -1)
check "send succeeds with no daemon" test -n "$id"

# 6. Something else at the path is not replaced: the daemon refuses to
#    start and says why.
echo "not a socket" > "$W"
timeout 30 "$BIN_AGENT" run --dir "$T/police" --endpoint "$ENDPOINT" > "$T/police.refused.log" 2>&1
rc=$?
check "a file at agent.wake stops the daemon (exit $rc)" test "$rc" -eq 1
check "and it says why" grep -q "agent.wake exists and is not a socket" "$T/police.refused.log"
check "the file is left alone" grep -q "not a socket" "$W"
rm -f "$W"
it_agent_start police
check "queued while no daemon ran, delivered after start" state_is police "$id" delivered

it_done
