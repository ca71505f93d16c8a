#!/usr/bin/env bash
# Training throughput and peak memory side by side: one SGD-momentum step (forward in training
# mode, cross-entropy, backward, update) at 224x224, `sightline bench --job train` against Keras
# 3 on TensorFlow `train_on_batch` (bench/peer_train_keras.py), alternating tool and peer for
# each round, architecture and BatchNorm mode, on the same machine in the same run. Prints one
# JSON line per measurement. BatchNorm `frozen` is what `sightline finetune` does by default
# (Keras: BatchNormalization layers trainable=False); `train` uses batch statistics in both.
#
# Needs: a release build (swift build -c release) and `pip install tensorflow-cpu` for PYTHON.
# Ends with one "summary" line per configuration: the speed ratio of each round and their median.
# Usage: bash bench/compare_training.sh [batch] [archs] [bn modes] [rounds]
#   e.g. bash bench/compare_training.sh 16 "resnet50 vgg16 mobilenetv2" "frozen train" 3
# PRECISIONS="fp32 bf16" runs Sightline once per precision in each round, before the peer (Keras
# stays float32); default fp32.
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-16}
archs=${2:-"resnet50 vgg16 mobilenetv2"}
modes=${3:-frozen}
rounds=${4:-3}
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for round in $(seq "$rounds"); do
    for arch in $archs; do
        for bn in $modes; do
            for precision in ${PRECISIONS:-fp32}; do
                .build/release/sightline bench --arch "$arch" --batch "$batch" --job train --bn "$bn" \
                    --precision "$precision" --repeats 4 --warmup 2 | tee -a "$lines"
            done
            KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 ${PYTHON:-python3} bench/peer_train_keras.py "$batch" "$arch" "$bn" 2>/dev/null | tail -n 1 | tee -a "$lines"
        done
    done
done
# One summary line per architecture, BatchNorm mode and precision: Keras's step time over
# Sightline's in each round (each Sightline run against the Keras run that follows it), their
# median, and Sightline's peak memory over Keras's.
python3 - "$lines" <<'SUMMARY'
import json, statistics, sys
pending, rows = [], {}
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    if "peer" not in d:
        pending.append(d)
        continue
    for s in pending:
        row = rows.setdefault((s["arch"], s["bn"], s["precision"]), {"ratios": [], "peak": []})
        row["ratios"].append(round(d["median_s"] / s["median_s"], 2))
        row["peak"].append(round(s["peak_rss_mib"] / d["peak_rss_mib"], 2))
    pending = []
for (arch, bn, precision), row in rows.items():
    print(json.dumps({"summary": "sightline / keras", "arch": arch, "bn": bn, "precision": precision,
                      "speed_ratios": row["ratios"], "median": statistics.median(row["ratios"]),
                      "peak_ratios": row["peak"]}))
SUMMARY
