#!/bin/bash
# Runs every (layout, method) 7 times, interleaved, each on a freshly made
# ext4 on a loop device backed by /dev/shm. Output: one line per run.
set -euo pipefail
B=${B:-/tmp/unlink-probe-target/release/unlink-probe}
IMG=/dev/shm/unl.img MNT=/tmp/unl-mnt REPS=${REPS:-7}
METHODS=(seq ring64 ring256 ring64i thr2)
mkdir -p $MNT
truncate -s 4G $IMG
LOOP=$(losetup -f --show $IMG)
trap 'umount $MNT 2>/dev/null || true; losetup -d $LOOP; rm -f $IMG' EXIT
for rep in $(seq 1 $REPS); do
  for layout in flat dirs; do
    for k in 0 1 2 3 4; do   # rotate the method order each rep
      m=${METHODS[$(( (k + rep) % 5 ))]}
      mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $LOOP
      mount $LOOP $MNT
      echo "rep=$rep $(${WRAP:-} $B $MNT $layout $m)"
      umount $MNT
    done
  done
done
