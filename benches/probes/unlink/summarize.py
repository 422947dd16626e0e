#!/usr/bin/env python3
"""Median table from run.sh output (stdin)."""
import re, statistics as st, sys
rows = {}
for line in sys.stdin:
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    rows.setdefault((kv["layout"], kv["method"]), []).append(kv)
print("| layout | method | runs | wall ms (median) | CPU ms (median, RUSAGE_SELF) | of which io-wq ms | io-wq threads |")
print("|---|---|---|---|---|---|---|")
for (l, m), rs in sorted(rows.items(), key=lambda x: (x[0][0] != "flat", ["seq", "thr2", "ring64", "ring256", "ring64i"].index(x[0][1]))):
    med = lambda k: st.median(float(r[k]) for r in rs)
    print(f"| {l} | {m} | {len(rs)} | {med('wall_ms'):.0f} | {med('cpu_self_ms'):.0f} | {med('iowq_cpu_ms'):.0f} | {med('iowq_threads'):.0f} |")
