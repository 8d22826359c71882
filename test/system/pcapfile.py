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


# pcapng (the format of dpdk-dumpcap): only what a capture of one Ethernet
# interface needs. Block: type, total length, body, total length again.
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 0x00000001
PCAPNG_EPB = 0x00000006
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
EPB_FLAGS = 2  # option code; bits 0-1: 1 inbound, 2 outbound
INBOUND, OUTBOUND = 1, 2


def read_pcapng(path):
    """[(direction, frame)] of each enhanced packet block in a little-endian
    pcapng file (direction 0 when the block has no epb_flags); asserts that
    no frame was cut by the snap length."""
    with open(path, "rb") as f:
        data = f.read()
    packets = []
    pos = 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        assert blen >= 12 and blen % 4 == 0 and pos + blen <= len(data), \
            f"{path}: bad block at {pos}"
        assert struct.unpack_from("<I", data, pos + blen - 4)[0] == blen, \
            f"{path}: block at {pos} ends with another length"
        body = data[pos + 8:pos + blen - 4]
        if pos == 0:
            assert btype == PCAPNG_SHB, f"{path}: not a pcapng file"
            assert struct.unpack_from("<I", body)[0] == PCAPNG_BYTE_ORDER, \
                f"{path}: not little-endian"
        elif btype == PCAPNG_IDB:
            assert struct.unpack_from("<H", body)[0] == LINKTYPE_ETHERNET, f"{path}: link type"
        elif btype == PCAPNG_EPB:
            _, _, _, cap_len, orig_len = struct.unpack_from("<IIIII", body)
            assert cap_len == orig_len, f"{path}: truncated frame ({cap_len} of {orig_len})"
            frame = body[20:20 + cap_len]
            opt = 20 + (cap_len + 3) // 4 * 4
            direction = 0
            while opt + 4 <= len(body):
                code, length = struct.unpack_from("<HH", body, opt)
                if code == 0:
                    break
                if code == EPB_FLAGS and length == 4:
                    direction = struct.unpack_from("<I", body, opt + 4)[0] & 3
                opt += 4 + (length + 3) // 4 * 4
            packets.append((direction, frame))
        pos += blen
    return packets
