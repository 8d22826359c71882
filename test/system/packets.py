# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Ethernet/IPv4/IPv6/TCP/UDP frames built and checked byte by byte, with
the Internet checksum computed here (RFC 1071), independently of the code
under test."""

import random
import struct

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
TCP, UDP = 6, 17


def csum16(data: bytes) -> int:
    """One's-complement sum of 16-bit words, folded (not complemented)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(ipv6: bool, src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if ipv6:
        return src + dst + struct.pack("!IxxxB", length, proto)
    return src + dst + struct.pack("!xBH", proto, length)


class Frame:
    """A parsed frame: offsets and fields of the layers we care about."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        etype = struct.unpack_from("!H", data, 12)[0]
        self.l3 = 14
        self.ipv6 = etype == ETH_IPV6
        if self.ipv6:
            self.proto = data[self.l3 + 6]
            self.src, self.dst = data[self.l3 + 8:self.l3 + 24], data[self.l3 + 24:self.l3 + 40]
            self.l4 = self.l3 + 40
        else:
            ihl = (data[self.l3] & 15) * 4
            self.proto = data[self.l3 + 9]
            self.src, self.dst = data[self.l3 + 12:self.l3 + 16], data[self.l3 + 16:self.l3 + 20]
            self.l4 = self.l3 + ihl
        if self.proto == TCP:
            self.l4_hdr = (data[self.l4 + 12] >> 4) * 4
            self.csum_off = self.l4 + 16
            self.seq = struct.unpack_from("!I", data, self.l4 + 4)[0]
        else:
            self.l4_hdr = 8
            self.csum_off = self.l4 + 6
        self.payload = self.data[self.l4 + self.l4_hdr:]

    def ip_header_ok(self) -> bool:
        if self.ipv6:
            return struct.unpack_from("!H", self.data, self.l3 + 4)[0] == len(self.data) - self.l3 - 40
        ihl = (self.data[self.l3] & 15) * 4
        total = struct.unpack_from("!H", self.data, self.l3 + 2)[0]
        return csum16(self.data[self.l3:self.l3 + ihl]) == 0xFFFF and total == len(self.data) - self.l3

    def l4_len(self) -> int:
        return len(self.data) - self.l4

    def l4_ok(self) -> bool:
        field = struct.unpack_from("!H", self.data, self.csum_off)[0]
        if self.proto == UDP and field == 0:
            return False  # we never send "no checksum"
        ph = pseudo(self.ipv6, self.src, self.dst, self.proto, self.l4_len())
        return csum16(ph + self.data[self.l4:]) == 0xFFFF

    def l4_blank(self) -> bool:
        """The field holds the pseudo-header sum: a blank (partial) checksum."""
        field = struct.unpack_from("!H", self.data, self.csum_off)[0]
        return field == csum16(pseudo(self.ipv6, self.src, self.dst, self.proto, self.l4_len()))

    def without_checksums(self) -> bytes:
        """The frame from its ethertype on with checksum fields zeroed, for
        comparing contents (testpmd's csum engine rewrites the MACs)."""
        b = bytearray(self.data)
        b[self.csum_off:self.csum_off + 2] = b"\0\0"
        if not self.ipv6:
            b[self.l3 + 10:self.l3 + 12] = b"\0\0"
        return bytes(b[12:])


def build(ipv6: bool, proto: int, payload: bytes, dst_mac: bytes, src_mac: bytes,
          seq: int = 1000, good_checksums: bool = False, ip_id: int = 7,
          tcp_flags: int = 0x18, tcp_options: bytes = b"") -> bytes:
    """A frame; checksums wrong (0x1234: not 0, which UDP over IPv4 reads as
    "no checksum" and testpmd's csum engine then leaves alone) unless
    `good_checksums`."""
    src = bytes(range(0x20, 0x30)) if ipv6 else bytes([10, 1, 0, 1])
    dst = bytes(range(0x40, 0x50)) if ipv6 else bytes([10, 1, 0, 2])
    if proto == TCP:
        assert len(tcp_options) % 4 == 0
        l4 = struct.pack("!HHIIBBHHH", 40000, 5001, seq, 1, (5 + len(tcp_options) // 4) << 4,
                         tcp_flags, 8192, 0x1234, 0) + tcp_options + payload
        csum_at = 16
    else:
        l4 = struct.pack("!HHHH", 40000, 5001, 8 + len(payload), 0x1234) + payload
        csum_at = 6
    if good_checksums:
        l4 = l4[:csum_at] + b"\0\0" + l4[csum_at + 2:]
        c = 0xFFFF - csum16(pseudo(ipv6, src, dst, proto, len(l4)) + l4)
        if c == 0 and proto == UDP:
            c = 0xFFFF
        l4 = l4[:csum_at] + struct.pack("!H", c) + l4[csum_at + 2:]
    if ipv6:
        l3 = struct.pack("!IHBB", 6 << 28, len(l4), proto, 64) + src + dst
        etype = ETH_IPV6
    else:
        l3 = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), ip_id, 0x4000, 64, proto, 0x1234) + src + dst
        if good_checksums:
            l3 = l3[:10] + b"\0\0" + l3[12:]
            c = 0xFFFF - csum16(l3)
            l3 = l3[:10] + struct.pack("!H", c) + l3[12:]
        etype = ETH_IPV4
    return dst_mac + src_mac + struct.pack("!H", etype) + l3 + l4


def payload(rnd: random.Random, n: int) -> bytes:
    return rnd.randbytes(n)


# RSS: the Toeplitz hash computed independently of the drivers, and flows
# to check it with.

MS_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                       "6a42b73bbeac01fa")


def toeplitz(key: bytes, data: bytes) -> int:
    """RSS Toeplitz (Microsoft's definition, as netif.h restates it)."""
    k = int.from_bytes(key, "big")
    klen = len(key) * 8
    h = 0
    for i, byte in enumerate(data):
        for bit in range(8):
            if byte & (0x80 >> bit):
                pos = i * 8 + bit
                h ^= (k >> (klen - 32 - pos)) & 0xFFFFFFFF if pos <= klen - 32 else 0
    return h


def tcp_flows(count: int, seed: int, dst_mac: bytes, src_mac: bytes) -> list:
    """IPv4 and IPv6 TCP flows, one packet each, told apart by length
    (flow i is 154 + i bytes long, whichever IP version it is)."""
    rnd = random.Random(seed)
    frames = []
    for i in range(count):
        ipv6 = i % 3 == 2
        f = build(ipv6, TCP, bytes((80 if ipv6 else 100) + i), dst_mac, src_mac,
                  good_checksums=True)
        b = bytearray(f)
        l3 = 14
        l4 = l3 + (40 if ipv6 else 20)
        # Distinct addresses and ports per flow.
        src_off = l3 + (8 if ipv6 else 12)
        b[src_off:src_off + 4] = rnd.randbytes(4)
        b[l4:l4 + 4] = rnd.randbytes(4)
        frames.append(bytes(b))
    return frames


def hash_input(frame: bytes) -> bytes:
    f = Frame(frame)
    ports = frame[f.l4:f.l4 + 4]
    return f.src + f.dst + ports  # the TCP types: addresses then ports
