#!/usr/bin/env bash
# Trains one recipe fresh at several seeds and prints its final evaluation metrics per seed and their range — the
# way every accuracy quoted in a recipe comment or a doc is measured. Runs go to runs/<name>-seed<S>/.
# usage: bench/recipe_seeds.sh RECIPE.yaml [SEED ...]        (default seeds 0 1 2; extra --set keys via SETS="k=v …")
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=$1; shift
seeds=("$@"); [ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
name=$(awk '/^name:/ {print $2; exit}' "$recipe")
sets=(); for kv in ${SETS:-}; do sets+=(--set "$kv"); done
./sharpen build >/dev/null
all=$(mktemp); trap 'rm -f "$all"' EXIT
for s in "${seeds[@]}"; do
  log="runs/$name-seed$s.log"; mkdir -p runs
  start=$(date +%s)
  ./sharpen train "$recipe" --fresh --set name="$name-seed$s" --set train.seed="$s" "${sets[@]}" > "$log" 2>&1 \
    || { echo "seed $s: failed, see $log"; continue; }
  line=$(awk '/^eval [a-z_\/]+ =/ { printf "%s %s  ", $2, $4 }' "$log")
  echo "seed $s ($(( $(date +%s) - start )) s): $line"
  awk -v s="$s" '/^eval [a-z_\/]+ =/ { print $2, $4 }' "$log" >> "$all"
done
awk '{ if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2; if (!($1 in hi) || $2 > hi[$1]) hi[$1] = $2 }
     END { for (k in lo) printf "range %s: %.4g – %.4g\n", k, lo[k], hi[k] }' "$all" | sort
