#!/usr/bin/env bash
# The audit-log benchmark of docs/performance.md: makes a network with the
# real tools, fills its log with N signed records (nrm-loggen), then
# measures the signature ceiling of this machine, `nrm-audit verify` of the
# whole log, and proof generation from the stored tree.
# usage: tools/bench-audit.sh BUILD_DIR WORK_DIR RECORDS [SKIP_VERIFY]
set -eu
B=${1:?build folder}; W=${2:?work folder}; N=${3:?records}
mkdir -p "$W"; rm -rf "$W/net" "$W/police" "$W/msdhs"
"$B/tools/nrm-admin" init --dir "$W/net" > /dev/null
for o in police msdhs; do
  "$B/agents/nrm-agent" keygen --dir "$W/$o" --id $o --type $o --name "Benchmark $o" > /dev/null
  "$B/tools/nrm-admin" enroll --dir "$W/net" "$W/$o/request.nrm" > /dev/null
done
echo "== generating $N records"
"$B/tools/nrm-loggen" --dir "$W/net" --police "$W/police" --msdhs "$W/msdhs" --records "$N"
du -sh "$W/net/data"
echo "== signatures alone (libsodium Ed25519)"
"$B/tools/nrm-auditbench" sigs 5
if [ -z "${4:-}" ]; then
  echo "== nrm-audit verify"
  /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB max RSS" "$B/tools/nrm-audit" verify --dir "$W/net"
fi
echo "== proofs from the stored tree"
"$B/tools/nrm-auditbench" prove "$W/net" 10000
