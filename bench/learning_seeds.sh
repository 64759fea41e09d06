#!/usr/bin/env bash
# Reruns every learning test (a test that asserts an effect of training) with its seeds moved by each offset given
# (default 0 1 2 3 4), and prints what each test recorded, grouped by test: the ranges quoted in those tests' comments
# come from this. A failing assertion at some offset is reported but does not stop the sweep.
# usage: bench/learning_seeds.sh [OFFSET ...]     FILTER='…' limits it to some tests (a dotnet test --filter).
set -uo pipefail
cd "$(dirname "$0")/.."
offsets=("$@"); [ ${#offsets[@]} -eq 0 ] && offsets=(0 1 2 3 4)
filter=${FILTER:-"FullyQualifiedName~OnlineTrainerTests.GrpoRaises|FullyQualifiedName~OnlineTrainerTests.PpoWithACritic|FullyQualifiedName~PreferenceTrainerTests.EachLossFamily|FullyQualifiedName~PreferenceTrainerTests.DpoRanks|FullyQualifiedName~PreferenceTrainerTests.RobustDpo|FullyQualifiedName~PreferenceTrainerTests.Listwise|FullyQualifiedName~RewardTrainerTests.HeldOut|FullyQualifiedName~RewardTrainerTests.Ensemble|FullyQualifiedName~SftTrainerTests"}
log=$(mktemp); trap 'rm -f "$log"' EXIT
./sharpen build >/dev/null || exit 1
for o in "${offsets[@]}"; do
  SHARPEN_LEARNING_SEED=$o SHARPEN_LEARNING_LOG=$log ./sharpen test "$filter" 2>&1 | grep -E '^tests:|\[FAIL\]' | sed "s/^/offset $o: /"
done
echo; sort -t$'\t' -k2,2 -k1,1n "$log" | awk -F'\t' '$2 != last { print "\n" $2; last = $2 } { print "  offset " $1 ": " $3 }'
