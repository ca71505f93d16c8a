#!/usr/bin/env bash
# The convolution routes side by side in one run: per layer kind, the time of one forward pass
# with SIGHTLINE_CONV=reference (im2col+sgemm), direct (oneDNN for every layer) and auto (the
# per-layer rule: Winograd F(4x4,3x3) for 3x3 stride 1, oneDNN direct for the rest),
# alternating routes round by round. Also 1 vs 2 threads for the auto route (OMP_NUM_THREADS).
# Usage: bash bench/compare_routes.sh [arch] [batch] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-resnet50}
batch=${2:-8}
rounds=${3:-2}
for round in $(seq "$rounds"); do
    for route in reference direct auto; do
        echo "# round $round, SIGHTLINE_CONV=$route" >&2
        SIGHTLINE_CONV=$route .build/release/sightline bench --arch "$arch" --batch "$batch" --repeats 3 --profile
    done
done
for threads in 1 2; do
    echo "# auto, $threads thread(s)" >&2
    OMP_NUM_THREADS=$threads SIGHTLINE_THREADS=$threads .build/release/sightline bench --arch "$arch" --batch "$batch" --repeats 3 --profile
done
