#!/usr/bin/env bash
# Configuration checks (docs/operations.md): `--check-config` of the agent
# and the broker refuses an unknown key, a bad value and a missing file with
# the exact FILE:LINE: reason, and accepts a valid configuration; a bad file
# stops `nrm-agent run` with the same message. And the log formats: every
# line of --log-format json is a JSON object, every kv line key=value.
. "$(dirname "$0")/lib.sh" "$1"

it_setup
it_org police police "Police"
A=$T/police

# expect_check DESCRIPTION EXIT EXPECTED-STDERR-LINE command...
expect_check() {
  local what=$1 code=$2 want=$3; shift 3
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = "$code" ] && [ "$out" = "$want" ]; then ok "$what"
  else fail "$what: exit $rc, stderr '$out' (wanted $code, '$want')"; fi
}

check "no agent.ini: valid" bash -c "'$BIN_AGENT' run --dir '$A' --check-config | grep -q 'is valid'"
printf '[api]\nlisten = 127.0.0.1:0\n\n[metrics]\nlisten = 0.0.0.0:9465\n[hooks]\nspool_in = in\n[log]\nformat = json\nlevel = debug\n' > "$A/agent.ini"
check "a full agent.ini: valid" bash -c "'$BIN_AGENT' run --dir '$A' --check-config | grep -q 'is valid'"

printf '[api]\nlisten = 127.0.0.1:0\ncolour = red\n' > "$A/agent.ini"
expect_check "unknown key: file, line, reason" 1 "$A/agent.ini:3: unknown key 'colour' in [api]" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '; comment\n[api]\nlisten = 10.0.0.1:80\n' > "$A/agent.ini"
expect_check "a non-loopback API address: file, line, reason" 1 \
  "$A/agent.ini:3: bad value of 'listen' in [api]: '10.0.0.1:80' is not a loopback address (127.x.x.x): this interface is for programs on this machine only" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '[log]\nlevel = info\nformat = xml\n' > "$A/agent.ini"
expect_check "a bad log format: file, line, reason" 1 \
  "$A/agent.ini:3: bad value of 'format' in [log]: 'xml' is not one of text, kv, json" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '[hooks]\ncommand_timeout_s = 0\n' > "$A/agent.ini"
expect_check "a number out of range: file, line, reason" 1 \
  "$A/agent.ini:2: 'command_timeout_s' must be between 1 and 3600 (got 0)" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '[hooks]\ncommand = take-item\n' > "$A/agent.ini"
expect_check "a relative hook command: file, line, reason" 1 \
  "$A/agent.ini:2: bad value of 'command' in [hooks]: the hook command must be an absolute path (it is run without a shell, with the item id and file as its arguments)" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '[web]\nport = 80\n' > "$A/agent.ini"
expect_check "unknown section: file, line (of its first key), reason" 1 "$A/agent.ini:2: unknown section [web]" \
  "$BIN_AGENT" run --dir "$A" --check-config
printf '[api]\nlisten\n' > "$A/agent.ini"
expect_check "a line that is not key = value" 1 \
  "$A/agent.ini:2: syntax error (expected [section] or key = value)" \
  "$BIN_AGENT" run --dir "$A" --check-config
expect_check "a missing --config file" 1 "$T/nowhere.ini: No such file or directory" \
  "$BIN_AGENT" run --dir "$A" --config "$T/nowhere.ini" --check-config
printf '[api]\nlisten = 127.0.0.1:0\ncolour = red\n' > "$A/agent.ini"
expect_check "run refuses to start with the same message" 1 \
  "nrm-agent run: $A/agent.ini:3: unknown key 'colour' in [api]" \
  "$BIN_AGENT" run --dir "$A"
rm "$A/agent.ini"

cp "$A/org.ini" "$T/org.ini.good"
printf 'colour = red\n' >> "$A/org.ini"
N=$(wc -l < "$A/org.ini")
expect_check "org.ini is checked too" 1 "$A/org.ini:$N: unknown key 'colour' in [$(grep '^\[' "$A/org.ini" | tail -n 1 | tr -d '[]')]" \
  "$BIN_AGENT" run --dir "$A" --check-config
cp "$T/org.ini.good" "$A/org.ini"
mv "$A/connect.ini" "$T/connect.ini.good"
check "a missing connect.ini is named" bash -c "'$BIN_AGENT' run --dir '$A' --check-config 2>&1 | grep -q 'connect.ini'"
mv "$T/connect.ini.good" "$A/connect.ini"
printf '[routing]\nnonsense\n' > "$A/policy.ini"
check "a bad policy.ini is named with its line" bash -c "'$BIN_AGENT' run --dir '$A' --check-config 2>&1 | grep -q 'policy.ini:1: unknown section \[routing\]'"
rm "$A/policy.ini"

check "broker.ini: valid" bash -c "'$BIN_BROKER' --dir '$NET' --check-config | grep -q 'is valid'"
cp "$NET/broker.ini" "$T/broker.ini.good"
sed -i 's/^batch_max = .*/batch_max = 0/' "$NET/broker.ini"
N=$(grep -n '^batch_max' "$NET/broker.ini" | cut -d: -f1)
expect_check "broker.ini: a bad value, file, line, reason" 1 \
  "$NET/broker.ini:$N: 'batch_max' must be between 1 and 65536 (got 0)" \
  "$BIN_BROKER" --dir "$NET" --check-config
cp "$T/broker.ini.good" "$NET/broker.ini"
sed -i '1a speed = 11' "$NET/broker.ini"
N=2
expect_check "broker.ini: an unknown key" 1 "$NET/broker.ini:$N: unknown key 'speed' in [broker]" \
  "$BIN_BROKER" --dir "$NET" --check-config
cp "$T/broker.ini.good" "$NET/broker.ini"
expect_check "broker: a missing folder" 1 "$T/nonet/broker.ini: No such file or directory" \
  "$BIN_BROKER" --dir "$T/nonet" --check-config

# ---- log formats ----
for fmt in json kv; do
  "$BIN_AGENT" run --dir "$A" --endpoint tcp://127.0.0.1:9 --log-format $fmt --log-level debug \
    > /dev/null 2> "$T/log.$fmt" &
  pid=$!
  sleep 0.7
  kill -TERM $pid; wait $pid
done
check "json logs: every line one JSON object with ts, level, role, org, msg" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 2, lines
for l in lines:
    d = json.loads(l)
    assert set(d) == {"ts", "level", "role", "org", "msg"} and d["org"] == "police", d' "$T/log.json"
check "kv logs: every line ts= level= role= org= msg=\"...\"" python3 -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 2, lines
for l in lines:
    assert re.match(r"ts=\S+ level=(ERROR|WARN|INFO|DEBUG) role=agent org=police msg=\"([^\"\\]|\\.)*\"$", l), l' "$T/log.kv"
check "[log] format in agent.ini selects the format" bash -c "
  printf '[log]\nformat = json\n' > '$A/agent.ini'
  '$BIN_AGENT' run --dir '$A' --endpoint tcp://127.0.0.1:9 2> '$T/log.ini' & p=\$!; sleep 0.5; kill -TERM \$p; wait \$p
  head -n 1 '$T/log.ini' | python3 -c 'import json,sys; json.loads(sys.stdin.readline())'"
it_done
