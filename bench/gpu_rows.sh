#!/usr/bin/env bash
# Benchmark rows of the cpu profile's settings (2 mm, half-res, 1500 steps) trained on a lent GPU:
# `bench/accuracy.py --profile cpu-cuda`, one row after another until the clock runs out. Each row
# is a separate process, so a row cut short leaves the ones before it intact; the rows done come
# back as one archive (a lent machine returns at most 8 files).
#
#   bench/gpu_rows.sh DATA_DIR CACHE_DIR ATLAS_JSON OUT_DIR SECONDS ROW [ROW ...]
#
# DATA_DIR is laid out like ../shared/data (brains/<subject>/...); CACHE_DIR is a prepared-scan cache
# (bench/out/accuracy/cache), so no ANTs registration runs there; ATLAS_JSON is the cpu profile's
# rows/atlas.json, so both profiles use the same atlas.
set -u
# absolute: the benchmark links its data folder to these paths from another directory
data=$(realpath "$1") cache=$(realpath "$2") atlas=$(realpath "$3") out=$(realpath -m "$4") secs=$5
shift 5
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:${PYTHONPATH:-} LTNET_DATA=$data
py=${PYTHON:-python3}
root=bench/out/accuracy store=$PWD/bench/results/cpu-cuda
mkdir -p "$out" "$root" "$store/rows"
[ -e "$root/cache" ] || ln -s "$(realpath "$cache")" "$root/cache"
cp "$atlas" "$store/rows/atlas.json"
nvidia-smi -L 2>/dev/null
end=$((SECONDS + secs))
for row in "$@"; do
    left=$((end - SECONDS))
    [ "$left" -gt 30 ] || { echo "== $row: no time left"; break; }
    echo "== $row ($left s left)"
    timeout -s INT "$left" $py -m bench.accuracy --profile cpu-cuda --only "$row" 2>&1 | tail -5
done
# the row records (unpack over bench/results/cpu-cuda) and the training logs
tar -czf "$out/rows.tgz" -C "$store" rows
(cd "$root/cpu-cuda" && tar -czf "$out/logs.tgz" runs/*/log.jsonl 2>/dev/null)
cp bench/RESULTS-cpu-cuda.md "$out/" 2>/dev/null
ls -la "$out"
