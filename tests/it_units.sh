#!/usr/bin/env bash
# The systemd units of config/systemd: `systemd-analyze verify` with the
# programs pointed at this build (it reports unknown or misspelt settings,
# bad values and missing executables). Skipped (77) where systemd-analyze
# is not installed.
set -u
BUILD=$(cd "${1:?build folder}" && pwd)
SRC=$(cd "$(dirname "$0")/../config/systemd" && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
T=$(mktemp -d /tmp/nrm-units-XXXXXX)
trap 'rm -rf "$T"' EXIT
sed "s|/usr/local/bin/nrm-broker|$BUILD/broker/nrm-broker|g" "$SRC/nrm-broker.service" > "$T/nrm-broker.service"
sed "s|/usr/local/bin/nrm-agent|$BUILD/agents/nrm-agent|g" "$SRC/nrm-agent@.service" > "$T/nrm-agent@police.service"
rc=0
for u in nrm-broker.service nrm-agent@police.service; do
  out=$(cd "$T" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "./$u" 2>&1)
  if [ -n "$out" ]; then echo "FAIL: $u: $out"; rc=1; else echo "ok: $u verifies"; fi
  for key in NoNewPrivileges=yes ProtectSystem=strict User=nrmbus StateDirectory= --check-config; do
    grep -q -- "$key" "$T/$u" || { echo "FAIL: $u lacks $key"; rc=1; }
  done
done
exit $rc
