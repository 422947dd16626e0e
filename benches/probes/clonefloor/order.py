#!/usr/bin/env python3
"""Reorder clonefloor's LIST (issue 17: does creation order matter within btrfs?).

    order.py MODE LIST > LIST2     # MODE: grouped, hash, name

Every mode puts one directory's entries together, directories in the order their first entry
appears (so a directory is still listed before what it holds); within a directory: `grouped`
keeps LIST's (readdir) order, `hash` sorts by btrfs's name hash (crc32c seeded with ~1, the
offset of the name's DIR_ITEM key, so the items are appended), `name` sorts by name.
"""
import sys

TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)


def btrfs_name_hash(name: bytes) -> int:
    c = 0xFFFFFFFE
    for b in name:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    groups: dict[bytes, list[tuple[bytes, bytes]]] = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            parent, _, base = line[2:].rpartition(b"/")
            groups.setdefault(parent, []).append((base, line))
    out = sys.stdout.buffer
    for entries in groups.values():
        if mode == "hash":
            entries.sort(key=lambda e: btrfs_name_hash(e[0]))
        elif mode == "name":
            entries.sort(key=lambda e: e[0])
        elif mode != "grouped":
            sys.exit(f"order.py: unknown mode {mode!r}")
        for _, line in entries:
            out.write(line + b"\n")


if __name__ == "__main__":
    main()
