#!/bin/bash
# The same commands (affine, voxelmorph and full for 20 steps on the demo data) on two versions of
# the code: the same Dice and losses? (issue 33: the refactor changes no behaviour)
# usage: bench/investigations/before_after.sh OLD_SRC NEW_SRC   (two checkouts' src/ folders)
set -e
D=$(cd "$(dirname "$0")/../.." && pwd)/src/ltnet/data/demo
IM="$D/images"; LB="$D/labels"
for side in before after; do
  if [ $side = before ]; then SRC=$1; else SRC=$2; fi
  O=/tmp/behave/$side; rm -rf $O; mkdir -p $O
  run() { PYTHONPATH=$SRC OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ${PYTHON:-python} -m ltnet "$@"; }
  A="--atlas $IM/demo-01.nii.gz --atlas-labels $LB/demo-01.nii.gz"
  run segment --affine-only $A --images $IM/demo-19.nii.gz $IM/demo-20.nii.gz --out $O/aff --prealigned --no-cache --quiet
  run evaluate --pred $O/aff --truth $LB/demo-19.nii.gz $LB/demo-20.nii.gz --out $O/aff_s > /dev/null
  for v in voxelmorph full; do
    run train $A --images $IM/demo-0[2-9].nii.gz --out $O/$v --steps 20 --variant $v --half-res --prealigned --no-cache --quiet --checkpoint-every 20 > /dev/null 2>&1
    run segment --model $O/$v --images $IM/demo-19.nii.gz $IM/demo-20.nii.gz --out $O/${v}_seg --no-cache --quiet
    run evaluate --pred $O/${v}_seg --truth $LB/demo-19.nii.gz $LB/demo-20.nii.gz --out $O/${v}_s > /dev/null
  done
done
for f in aff_s/dice.json voxelmorph_s/dice.json full_s/dice.json; do
  python3 -c "import json,sys; a=json.load(open('/tmp/behave/before/$f'))['summary']; b=json.load(open('/tmp/behave/after/$f'))['summary']; print('$f', a['mean'], b['mean'], a==b)"
done
for v in voxelmorph full; do
  python3 -c "
import json
a=[json.loads(l) for l in open('/tmp/behave/before/$v/log.jsonl')]; b=[json.loads(l) for l in open('/tmp/behave/after/$v/log.jsonl')]
keys=[k for k in a[-1] if k not in ('seconds',)]
print('$v log', len(a), len(b), all(x.get(k)==y.get(k) for x,y in zip(a,b) for k in keys if not k.startswith('seconds')), a[-1]['total'], b[-1]['total'])"
done
