# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Minimal pcap files (the classic libpcap format) for net_pcap ports: the
test writes the frames to send and reads back what arrived."""

import random
import struct

GLOBAL = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1


def write(path, frames):
    with open(path, "wb") as f:
        f.write(GLOBAL.pack(MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for i, frame in enumerate(frames):
            f.write(RECORD.pack(i // 1000000, i % 1000000, len(frame), len(frame)))
            f.write(frame)


def read(path):
    frames = []
    with open(path, "rb") as f:
        head = f.read(GLOBAL.size)
        magic = GLOBAL.unpack(head)[0]
        assert magic in (MAGIC, 0xA1B23C4D), f"{path}: not a pcap file"
        while True:
            rec = f.read(RECORD.size)
            if len(rec) < RECORD.size:
                return frames
            _, _, incl, orig = RECORD.unpack(rec)
            assert incl == orig, f"{path}: truncated frame ({incl} of {orig})"
            frames.append(f.read(incl))


def make_frames(count, sizes, dst, src, seed):
    """`count` Ethernet frames (local experimental ethertype 0x88b5) with a
    sequence number and random payload, their sizes cycling through `sizes`."""
    rnd = random.Random(seed)
    frames = []
    for seq in range(count):
        size = sizes[seq % len(sizes)]
        header = dst + src + b"\x88\xb5" + struct.pack(">I", seq)
        frames.append(header + rnd.randbytes(size - len(header)))
    return frames


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))
