#!/usr/bin/env bash
# Reproduces the quickstart figures quoted in README.md and docs/quickstart.md: runs `sharpen quickstart --seed S`
# for each seed (default 0 1 2) and, as the control, SFT alone on the same data for the whole budget (the SFT
# stage's steps plus train.max_steps extra steps, about the GRPO stage's time), then prints one row per seed and
# the range. usage: bench/quickstart_seeds.sh [SEED ...]    (SFT_ONLY_EXTRA=N changes the control's extra steps)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@"); [ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
extra=${SFT_ONLY_EXTRA:-600}
out=runs/quickstart-seeds; mkdir -p "$out"
./sharpen build >/dev/null
sft_steps=$(awk '/max_steps:/ {print $2}' recipes/quickstart_sft.yaml)
printf '%-5s %10s %10s %10s %10s\n' seed "SFT (%)" "GRPO (%)" "time (s)" "SFT-only (%)" | tee "$out/table.txt"
for s in "${seeds[@]}"; do
  start=$(date +%s.%N)
  ./sharpen quickstart --seed "$s" > "$out/quickstart-s$s.log" 2>&1
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  before=$(awk -F': ' '/held-out accuracy, SFT checkpoint/ {gsub(/[ %]/, "", $2); print $2}' "$out/quickstart-s$s.log")
  after=$(awk -F': ' '/held-out accuracy, after GRPO/ {gsub(/[ %]/, "", $2); print $2}' "$out/quickstart-s$s.log")
  ./sharpen train recipes/quickstart_sft.yaml --fresh --set name="quickstart-sft-only-s$s" --set train.seed="$s" \
      --set train.max_steps=$((sft_steps + extra)) --set train.save_every=0 > "$out/sft-only-s$s.log" 2>&1
  only=$(awk '/^eval accuracy =/ {printf "%.1f", $4 * 100}' "$out/sft-only-s$s.log")
  printf '%-5s %10s %10s %10.0f %10s\n' "$s" "$before" "$after" "$secs" "$only" | tee -a "$out/table.txt"
done
awk 'NR > 1 { b[NR] = $2; a[NR] = $3; t[NR] = $4; o[NR] = $5 }
     function lo(x,  k, m) { m = 1e9; for (k in x) if (x[k] + 0 < m) m = x[k] + 0; return m }
     function hi(x,  k, m) { m = -1e9; for (k in x) if (x[k] + 0 > m) m = x[k] + 0; return m }
     END { printf "range: SFT start %.1f–%.1f %%, after GRPO %.1f–%.1f %%, SFT alone %.1f–%.1f %%, %.0f–%.0f s per quickstart\n",
                  lo(b), hi(b), lo(a), hi(a), lo(o), hi(o), lo(t), hi(t) }' "$out/table.txt" | tee -a "$out/table.txt"
