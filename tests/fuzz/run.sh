#!/usr/bin/env bash
# Runs one libFuzzer target for NRM_FUZZ_SECONDS (default 5) from its
# committed seeds and crash inputs. New inputs it finds go to
# WORK/corpus/NAME (never into the source tree); a crash is written to
# WORK/artifacts/ and fails the test.
#
# With NRM_FUZZ_SEED set (the short runs of `make test`) the run is
# reproducible: it starts from the committed inputs only (WORK/corpus/NAME
# is emptied), uses that seed, and stops after NRM_FUZZ_RUNS inputs (or
# NRM_FUZZ_SECONDS, whichever comes first; a slower machine then runs a
# prefix of the same sequence). A gate that passes on one machine passes
# on the next; the open-ended search is `make fuzz`.
#
# usage: run.sh NAME BINARY SOURCE_FUZZ_DIR WORK_DIR
set -u
name=$1 bin=$2 src=$3 work=$4
secs=${NRM_FUZZ_SECONDS:-5}
fixed=()
if [ -n "${NRM_FUZZ_SEED:-}" ]; then
  rm -rf "$work/corpus/$name"
  fixed=(-seed="$NRM_FUZZ_SEED" -runs="${NRM_FUZZ_RUNS:-200000}")
fi
mkdir -p "$work/corpus/$name" "$work/artifacts"
dirs=("$work/corpus/$name" "$src/corpus/$name")
[ -d "$src/crashes/$name" ] && dirs+=("$src/crashes/$name")
dict=()
[ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
"$bin" "${dict[@]}" "${fixed[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/$name-" "${dirs[@]}" > "$work/$name.log" 2>&1
rc=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)' "$work/$name.log"
if [ $rc -ne 0 ]; then
  tail -n 60 "$work/$name.log"
  echo "fuzz_$name found a failure (exit $rc); the input is in $work/artifacts/."
  echo "Fix it, then keep the input: cp it to tests/fuzz/crashes/$name/."
fi
exit $rc
