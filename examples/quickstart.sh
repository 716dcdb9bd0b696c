#!/usr/bin/env bash
# Train LT-Net on small synthetic brains, segment two of them, and score the result.
# Runs in about a minute on a 2-core CPU. Usage: bash examples/quickstart.sh [OUT_DIR]
set -euo pipefail
out=${1:-quickstart}
python -m ltnet.toy "$out/data" --subjects 6
ltnet select-atlas "$out"/data/images/*.nii.gz
ltnet train --atlas "$out/data/images/sub-01.nii.gz" --atlas-labels "$out/data/labels/sub-01.nii.gz" \
  --images "$out"/data/images/sub-0[2-4].nii.gz --out "$out/run" --steps 40 --checkpoint-every 20 --prealigned
ltnet segment --model "$out/run" --images "$out"/data/images/sub-0[56].nii.gz --out "$out/labels" --save-field
ltnet evaluate --pred "$out/labels" --truth "$out"/data/labels/sub-0[56].nii.gz --out "$out/scores" \
  --labels 2 3 4 16 17 41 42 43 53
