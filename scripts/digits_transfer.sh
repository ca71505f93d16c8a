#!/usr/bin/env bash
# Transfer learning on real data shipped in a package: scikit-learn's handwritten digits.
# Pretrain a 1/8-width ResNet50 from scratch on digits 0-4, then learn digits 5-9 from 60 images
# per class four ways; prints validation accuracy (same seeded 20% split for every route).
# Needs: swift build -c release; apt-get install python3-sklearn python3-pil
set -euo pipefail
cd "$(dirname "$0")/.."
S="$PWD/.build/release/sightline"
work=${1:-/tmp/sightline-digits}
rm -rf "$work" && /usr/bin/python3 scripts/make_digits_folders.py "$work" >/dev/null
cd "$work"
last() { grep -E "$1" | tail -n 1 | sed -E 's/.*validation accuracy ([0-9.]+).*/\1/'; }
$S init --arch resnet50 --width-divisor 8 --input-size 32 --classes 5 -o init.h5 --seed 1 >/dev/null
echo "pretraining on digits 0-4: $($S finetune init.h5 --data source -o pretrained.h5 --head-epochs 0 --epochs 40 --lr 2e-3 --schedule cosine:2 --bn train --batch 32 --no-augmentation --seed 1 | last 'epoch 40')"
$S extract pretrained.h5 target -o features.h5 >/dev/null 2>&1
echo "bottleneck head, logistic regression: $($S train-head features.h5 -o head.h5 --epochs 200 --lr 3e-3 | last 'epoch 200')"
echo "bottleneck head, MLP (64 hidden): $($S train-head features.h5 -o mlp.h5 --epochs 300 --lr 1e-3 --hidden 64 | last 'epoch 300')"
echo "fine-tuned, frozen BatchNorm (defaults: lr 1e-4, 20 epochs): $($S finetune pretrained.h5 --data target -o tuned_default.h5 --head-epochs 10 --epochs 20 --head-lr 3e-3 --batch 16 --no-augmentation | last 'phase 2 epoch 20')"
echo "fine-tuned, frozen BatchNorm (lr 1e-3 cosine, 30 epochs): $($S finetune pretrained.h5 --data target -o tuned.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --batch 16 --no-augmentation | last 'phase 2 epoch 30')"
echo "fine-tuned, BatchNorm trained (--bn train, same schedule): $($S finetune pretrained.h5 --data target -o tuned_bn.h5 --head-epochs 10 --epochs 30 --lr 1e-3 --head-lr 3e-3 --schedule cosine:2 --bn train --batch 16 --no-augmentation | last 'phase 2 epoch 30')"
$S init --arch resnet50 --width-divisor 8 --input-size 32 --classes 5 -o scratch_init.h5 --seed 2 >/dev/null
echo "trained from scratch on digits 5-9: $($S finetune scratch_init.h5 --data target -o scratch.h5 --head-epochs 0 --epochs 40 --lr 2e-3 --schedule cosine:2 --bn train --batch 16 --no-augmentation | last 'phase 2 epoch 40')"
