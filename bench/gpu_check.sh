#!/usr/bin/env bash
# The checks a lent GPU runs, in one go: the CUDA tests, step and forward timings, and one long
# full LT-Net run on the real brains (2 mm, half-res, the cpu profile's settings) stopped after
# TRAIN_SECONDS, then segmented and scored there. Results go to OUT_DIR.
#
#   bench/gpu_check.sh DATA_DIR CACHE_DIR OUT_DIR [TRAIN_SECONDS] [DEVICE]
#
# DATA_DIR holds images/<subject>.mgz and labels/<subject>.mgz; CACHE_DIR is a prepared-scan cache
# (bench/out/accuracy/cache) so that no ANTs registration has to run on the GPU machine.
set -u
data=$1 cache=$2 out=$3 secs=${4:-240} device=${5:-cuda}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:${PYTHONPATH:-}
py=${PYTHON:-python3}
mkdir -p "$out"
atlas=sub-03
run=${RUN_DIR:-/tmp/ltnet-gpu-run}
rm -rf "$run" /tmp/ltnet-gpu-seg /tmp/ltnet-gpu-eval

echo "== environment"
nvidia-smi -L 2>/dev/null
$py -c "import torch, monai, nibabel; print('torch', torch.__version__, 'monai', monai.__version__, 'nibabel', nibabel.__version__)"

echo "== CUDA tests"
timeout 180 $py -m pytest -p no:cacheprovider -q tests/test_cuda.py 2>&1 | tail -25 | tee "$out/pytest.txt"

if [ -z "${SKIP_SPEED:-}" ]; then
    echo "== speed"
    timeout 120 $py -m bench.gpu_speed --device "$device" --reps "${REPS:-10}" --out "$out/speed.json"
fi

echo "== real-data run: full LT-Net, $secs s"
tests=$(ls "$data"/images/*.mgz | grep -v "/$atlas.mgz")
# --steps far beyond reach: the run is stopped by the clock; the last checkpoint is what counts
timeout -s INT "$secs" $py -m ltnet train --atlas "$data/images/$atlas.mgz" \
    --atlas-labels "$data/labels/$atlas.mgz" --images "$data"/images/*.mgz --variant full \
    --half-res --spacing 2 --steps 100000 --checkpoint-every "${EVERY:-250}" --seed 0 \
    --device "$device" --cache "$cache" --quiet --out "$run"
echo "train exit $?"
cp "$run/log.jsonl" "$run/config.json" "$out/"
$py -m ltnet segment --model "$run" --images $tests --out /tmp/ltnet-gpu-seg --spacing 2 \
    --cache "$cache" --device "$device" --quiet
$py -m ltnet evaluate --pred /tmp/ltnet-gpu-seg \
    --truth $(for f in $tests; do echo "$data/labels/$(basename "$f")"; done) --out /tmp/ltnet-gpu-eval | tail -3
cp /tmp/ltnet-gpu-seg/*_segment.json /tmp/ltnet-gpu-eval/ 2>/dev/null
# a lent machine returns at most 8 files: the scores travel as one archive
tar -czf "$out/eval.tgz" -C /tmp ltnet-gpu-eval
# the checkpoint is over the 16 MB a returned file may have
split -b 15000000 "$run/checkpoint.pt" "$out/checkpoint.part-"
ls -la "$out"
