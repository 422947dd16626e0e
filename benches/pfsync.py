#!/usr/bin/env python3
"""fsync every file and directory under ROOT with THREADS fsyncs in flight at once.

What batched FSYNC requests through io_uring amount to on ext4: io-wq runs each one as a
blocking fsync in a kernel worker thread, many at a time. benches/sync.py times
`uring-cp -a SRC DST && pfsync.py DST 64` against `uring-cp -a --fsync` (one syncfs) to
decide how --fsync flushes.

Usage: pfsync.py ROOT [THREADS]
"""
import os, sys
from concurrent.futures import ThreadPoolExecutor


def main():
    root, threads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 64
    paths = []
    for d, _, files in os.walk(root):
        paths.append(d)
        paths += [p for p in (os.path.join(d, f) for f in files) if not os.path.islink(p)]

    def flush(p):
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(flush, paths))


if __name__ == "__main__":
    main()
