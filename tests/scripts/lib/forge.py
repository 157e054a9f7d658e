"""forge.py - wire packets made by hand (docs/wire.md), for the tests that
send forged, truncated and corrupted ones at backends and lanes."""
import struct


def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def packet(version, type_, payload, src, dst, flags=1, sess=7, seq=0):
    """A packet whose checksum is right: struct wire_hdr, then payload."""
    h = struct.pack("<HBBHHIIIIQQII", 0x4d58, version, type_, len(payload), flags, 0, sess, 0,
                    seq, src, dst, 0, 0)
    return h[:8] + struct.pack("<I", crc32c(h + payload)) + h[12:] + payload
