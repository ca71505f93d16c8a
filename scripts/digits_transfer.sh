#!/usr/bin/env bash
# Transfer learning on real data shipped in a package: scikit-learn's handwritten digits.
# Pretrain a 1/8-width ResNet50 from scratch on digits 0-4 (once, seed 1), then learn digits 5-9
# from 60 images per class by every route, each over several seeds (the seed sets the stratified
# 20% validation split, the head's initialisation and the shuffling; every route of one seed
# sees the same split). Prints each route's accuracy per seed, then mean ± standard deviation and
# the range, on the 60-image validation split (which also picks the kept epoch) and on the ~600
# held-out test images of digits 5-9 that no route sees (one image there is 0.17 points, against
# 1.7 on the validation split), and the CPU it ran on: training follows the CPU's kernel routes, so
# figures move by float rounding from one CPU to another and grow apart over epochs.
#   bash scripts/digits_transfer.sh [WORKDIR]      SEEDS="1 2 3 4 5 6" by default; ROUTES=REGEX runs only
#   the routes whose name matches it
# Needs: swift build -c release; apt-get install python3-sklearn python3-pil
set -euo pipefail
cd "$(dirname "$0")/.."
S="$PWD/.build/release/sightline"
work=${1:-/tmp/sightline-digits}
seeds=${SEEDS:-1 2 3 4 5 6}
only=${ROUTES:-.}
rm -rf "$work" && /usr/bin/python3 scripts/make_digits_folders.py "$work" >/dev/null
cd "$work"
# The validation accuracy on the last line matching $1 (with --ema, that of the weights' average).
last() { grep -E "$1" | tail -n 1 | sed -E "s/.*${2:-validation accuracy} ([0-9.]+).*/\1/"; }
echo "CPU: $(lscpu | sed -nE 's/^Model name: +//p' | head -n 1), $(nproc) cores; seeds: $seeds"
$S init --arch resnet50 --width-divisor 8 --input-size 32 --classes 5 -o init.h5 --seed 1 >/dev/null
echo "pretraining on digits 0-4: $($S finetune init.h5 --data source -o pretrained.h5 --head-epochs 0 --epochs 40 --lr 2e-3 --schedule cosine:2 --bn train --batch 32 --no-augmentation --seed 1 2>/dev/null | last 'epoch 40')"
$S extract pretrained.h5 target -o features.h5 >/dev/null 2>&1
$S init --arch resnet50 --width-divisor 8 --input-size 32 --classes 5 -o scratch_init.h5 --seed 2 >/dev/null

# route name | the model it writes, as evaluate takes it | command (SEED is replaced) | the line
# whose validation accuracy counts | what precedes it
routes=(
  "bottleneck head, logistic regression|pretrained.h5 --head head.h5|$S train-head features.h5 -o head.h5 --epochs 200 --lr 3e-3 --seed SEED|epoch 200"
  "bottleneck head, MLP (64 hidden)|pretrained.h5 --head mlp.h5|$S train-head features.h5 -o mlp.h5 --epochs 300 --lr 1e-3 --hidden 64 --seed SEED|epoch 300"
  "fine-tuned, frozen BatchNorm, defaults (lr 1e-4, 20 epochs)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 20 --head-lr 3e-3 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 20"
  "fine-tuned, frozen BatchNorm, --lr auto (the sweep's edge), 20 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 20 --lr auto --head-lr 3e-3 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 20"
  "fine-tuned, frozen BatchNorm, --lr auto:slide (fastai's interval slide), 20 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 20 --lr auto:slide --head-lr 3e-3 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 20"
  "fine-tuned, frozen BatchNorm, --lr auto:valley (fastai's default suggestion), 20 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 20 --lr auto:valley --head-lr 3e-3 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 20"
  "fine-tuned, frozen BatchNorm, --lr 1e-3 --schedule cosine:2, 30 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "the same with --precision bf16-emulated (bfloat16 convolutions forward and backward)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --precision bf16-emulated --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "the same with --precision bf16 (native, on CPUs with AVX512_BF16 or AMX; finetune --help says what each CPU computes in bf16)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --precision bf16 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "the same with --bn train|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --bn train --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "frozen BatchNorm, --lr 1e-3 --schedule one-cycle, 30 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule one-cycle --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "frozen BatchNorm, --lr 1e-5:1e-3 (discriminative) cosine:2, 30 epochs|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-5:1e-3 --head-lr 3e-3 --schedule cosine:2 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "frozen BatchNorm, cosine:2 30 epochs, --ema 0.99 (the average's accuracy)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --ema 0.99 --keep last --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30|EMA"
  "--recipe fastai, 30 epochs (1 head epoch, 1e-5:1e-3 one-cycle, AdamW, --bn train)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --recipe fastai --epochs 30 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "--recipe timm, 30 epochs, --lr auto (10 head epochs at 3e-3)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --recipe timm --head-epochs 10 --head-lr 3e-3 --epochs 30 --lr auto --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "--recipe timm, 30 epochs, --lr 1e-3 (cosine, smoothing, mixup/CutMix, EMA, --bn train)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --recipe timm --head-epochs 10 --head-lr 3e-3 --epochs 30 --lr 1e-3 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "--recipe sightline, 30 epochs (10 head epochs at 3e-3, --lr auto, cosine:2)|t.h5|$S finetune pretrained.h5 --data target -o t.h5 --recipe sightline --epochs 30 --batch 16 --no-augmentation --seed SEED|phase 2 epoch 30"
  "trained from scratch on digits 5-9|s.h5|$S finetune scratch_init.h5 --data target -o s.h5 --head-epochs 0 --epochs 40 --lr 2e-3 --schedule cosine:2 --bn train --batch 16 --no-augmentation --seed SEED|phase 2 epoch 40"
)
# "NAME" "VALUES": the values' mean ± sample standard deviation and range, in percent.
summary() {
  echo "$1: $2" | awk -F': ' '{
    n = split($2, v, " "); s = 0; for (i = 1; i <= n; i++) s += v[i]; m = s / n
    q = 0; lo = v[1]; hi = v[1]
    for (i = 1; i <= n; i++) { q += (v[i] - m) ^ 2; if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
    printf "%s: %.1f%% ± %.1f (range %.1f-%.1f; per seed %s)\n", $1, 100 * m, 100 * sqrt(q / (n > 1 ? n - 1 : 1)), 100 * lo, 100 * hi, $2 }'
}
for route in "${routes[@]}"; do
  IFS='|' read -r name model command line which <<<"$route"
  [[ "$name" =~ $only ]] || continue
  if [[ "$command" == *"--precision bf16 "* ]] && ! grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
    echo "$name: skipped (this CPU has neither AVX512_BF16 nor AMX)"
    continue
  fi
  values=() tests=()
  for seed in $seeds; do
    values+=("$(${command//SEED/$seed} 2>/dev/null | last "$line" "${which:-}")")
    tests+=("$($S evaluate $model --data test 2>/dev/null | head -n 1 | last . 'top-1 accuracy')")
  done
  summary "$name, validation" "${values[*]}"
  summary "$name, held-out test" "${tests[*]}"
done
