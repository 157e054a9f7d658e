#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora (tests/fuzz/corpus/*), each a
well-formed exchange the fuzzer then mutates.  Run once by hand when the
formats change; the seeds are kept in the repository."""
import os
import re
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def header_define(name, header):
    """A #define of the C headers: the seeds follow the formats they state."""
    with open(os.path.join(HERE, "..", "..", "src", "common", header)) as f:
        return int(re.search(r"#define %s (\w+)" % name, f.read()).group(1), 0)


# (a hard-coded 1 went stale at version 2: the backend refused every seed
# at its version check, and the fuzzer started from errors only)
CTL_MAGIC, CTL_VERSION = 0x4D58434C, header_define("CTL_VERSION", "ctl_abi.h")
ANY = 0xFFFFFFFF
(HELLO, OPEN, CLOSE, CONNECT, ATTACH, INFO, COUNTERS, ERROR, REPLY, RESOLVE,
 PEERS, VIF_SET) = range(1, 13)


def ctl(type_, body=b"", seq=7, text=b""):
    """A control message: header, 128-byte body, text."""
    hdr = struct.pack("<IHHIiII", CTL_MAGIC, CTL_VERSION, type_, seq, 0, len(text), 0)
    return hdr + body.ljust(128, b"\0") + text


def step(op, data):
    return bytes([op]) + struct.pack("<H", len(data)) + data


def write(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def control_seeds():
    o = lambda eid, key, lane=1: struct.pack("<IIII", 0, eid, key, lane)
    c = lambda vif, eid, nic, key, ch: struct.pack("<IIQII", vif, eid, nic, key, ch)
    nic = 0xFA11FA11
    for sock, mbox, dp in ((0, 2, 1), (1, 3, 0), (0, 2, 3), (2, 2, 5)):  # 5: a VM (mailbox only)
        s = bytes([dp])
        s += step(sock, ctl(OPEN, o(ANY, 5)))
        s += step(1, ctl(OPEN, o(3, 9, 0)))
        s += step(sock, ctl(CONNECT, c(0, 3, nic, 9, 1)))
        s += step(sock, ctl(CONNECT, c(0, 3, nic, 8, 0)))
        s += step(4, b"")
        s += step(mbox, ctl(INFO))
        s += step(mbox, ctl(COUNTERS))
        s += step(mbox, ctl(PEERS))
        s += step(sock, ctl(RESOLVE, struct.pack("<QII", 0, 1, 0) + b"fuzzhost".ljust(64, b"\0")))
        s += step(sock, ctl(RESOLVE, struct.pack("<QII", nic, 0, 0)))
        s += step(mbox, ctl(VIF_SET, struct.pack("<IIQQ", 3, 0, 1000000, 10)))
        # the close's last acks: the peer it connected to, and one it never had
        last = struct.pack("<QIIII", nic, 3, 1, 42, 0) + struct.pack("<QIIII", nic + 1, 4, 1, 7, 0)
        s += step(sock, ctl(CLOSE, struct.pack("<I", 0), text=last))
        s += step(5, b"")
        write("control", "exchange-%d-%d" % (sock, dp), s)
    write("control", "hello-again", b"\1" + step(0, ctl(HELLO, struct.pack("<II", 1, 1) + b"again")))
    write("control", "bad-framing", b"\1" + step(0, ctl(INFO, text=b"x" * 40)[:-20]))


NIC, PEER = 0xFA11FA11, 0xBE00
SMALL, FRAG, RNDV, SYNC_ACK, CTS, LARGE_DONE, PULL = range(1, 8)
GRANT_READ, GRANT_WRITE = 1, 2


def msg(type_, length=0, total=0, nic=0, eid=0, cookie=1, cookie2=0, grant=0, grant2=0,
        flags=0, frag=0, data=b""):
    """The first line of a request descriptor (struct msg)."""
    line = struct.pack("<HBBIIIQQQIHH", 0, type_, flags, length, total, 0, 0x1234, cookie,
                       nic, eid, frag, 0)
    tail = struct.pack("<QII", cookie2, grant, grant2) if not data else data[:16].ljust(16, b"\0")
    return line + tail


def grant_entry(idx, how, addr, length, gen, flags, nic=0, eid=0):
    return bytes([idx, how]) + struct.pack("<QQHHIQII", addr, length, gen, 1, flags, nic, eid, 0)  # session 0: any


def ref(idx, gen):
    return gen << 16 | idx


def ring_seeds():
    for dp in (1, 3, 4, 5):  # 5: a VM, whose grants name its RAM
        small = step(1, b"\1" + msg(SMALL, 12, 12, data=b"hello, world"))
        frag = step(1, b"\1" + msg(FRAG, 8192, 20000, frag=0))
        rndv = step(2, grant_entry(1, 1, 0, 4096, 1, GRANT_READ, NIC, 1)) + \
            step(1, b"\1" + msg(RNDV, 0, 4096, grant=ref(1, 1)))
        pull = step(6, grant_entry(2, 1, 8192, 4096, 1, GRANT_WRITE)) + \
            step(5, b"\1" + msg(PULL, 0, 4096, cookie2=9, grant=ref(1, 1), grant2=ref(2, 1)))
        rounds, events = step(3, b""), step(4, b"")
        write("ring", "messages-%d" % dp, bytes([dp]) + small + frag + rounds + events)
        write("ring", "rendezvous-%d" % dp,
              bytes([dp]) + rndv + rounds + events + pull + rounds + events + rounds)
        write("ring", "reopen-%d" % dp, bytes([dp]) + small + rndv + step(7, b"") + rounds)
        write("ring", "scribble-%d" % dp,
              bytes([dp]) + small + step(0, b"\1\0" + b"\xff" * 64) + rounds)


def pkt(type_, payload=b"", seq=0, reliable=True, dst_session=0, ack=0, flags=None):
    flags = (1 if reliable else 0) if flags is None else flags
    hdr = struct.pack("<HBBHHIIIIQQII", 0, 0, type_, 0, flags, 0, 1,
                      dst_session, seq, 0, 0, ack, 0)
    return hdr + payload


def wire_seeds():
    HELLO, ACK, CONNECT, DATA, PULL_REQ, NOTIFY, NACK, EP_GONE, KEEPALIVE = \
        11, 1, 4, 3, 6, 9, 10, 12, 13
    LANE_FLAG = 4
    hello = step(1, pkt(HELLO, b"peer".ljust(64, b"\0"), reliable=False))
    # a lane address (struct lane_addr): 127.0.0.1:40000, mtu 1472, a nonce
    lane = bytes([127, 0, 0, 1]).ljust(16, b"\0") + struct.pack(">H", 40000) + \
        struct.pack("<BBIII", 4, 0, 1472, 0x5eed, 0)
    connect = step(1, pkt(CONNECT, struct.pack("<IIIIII", 1, 0, 0, 0x77, 3, 0) + lane, seq=0))
    desc = lambda t, length, total, grant=0: struct.pack("<BBHIIIQQII", t, 0, 0, length, total,
                                                         0, 0x1234, 5, grant, 0)
    ext = lambda length: struct.pack("<IIIIII", 0, 0, 0, length, 3, 0)
    data = step(1, pkt(DATA, desc(SMALL, 8, 8) + ext(8) + b"12345678", seq=1))
    rndv = step(1, pkt(DATA, desc(RNDV, 0, 4096, ref(1, 1)) + ext(0), seq=2))
    grant = step(4, grant_entry(1, 1, 0, 4096, 1, GRANT_READ, PEER, 0))
    pullreq = step(1, pkt(PULL_REQ, struct.pack("<QQIIIIII", 5, 6, 0, ref(1, 1), 0, 4096, 3, 0),
                          seq=3))
    notify = step(1, pkt(NOTIFY, struct.pack("<QQIIII", 5, 6, 0, 0, 4096, 0), seq=4))
    nack = step(1, pkt(NACK, struct.pack("<QQIIII", 5, 0x1234, 0, 0, 3, 0), seq=5))
    ack = step(1, pkt(ACK, reliable=False, ack=3))
    # closed: endpoint 0 of session 3, its lane's last ack to our endpoint 0 (session 1)
    gone = step(1, pkt(EP_GONE, struct.pack("<II", 0, 3) + struct.pack("<IIII", 0, 1, 9, 0), seq=6))
    alive = step(1, pkt(KEEPALIVE, seq=7))
    at_port = step(1, pkt(DATA, desc(SMALL, 8, 8) + ext(8) + b"12345678", seq=8,
                          flags=1 | LANE_FLAG))  # a lane's packet at a port: dropped
    push = step(3, b"\1" + msg(SMALL, 4, 4, data=b"ping"))
    rounds, events = step(2, b""), step(5, b"")
    for keyed in (0, 1):
        k = bytes([keyed])
        write("wire", "stream-%d" % keyed, k + hello + connect + data + rndv + rounds + events + ack)
        write("wire", "gone-%d" % keyed,
              k + hello + connect + rounds + alive + at_port + gone + rounds + events)
        write("wire", "pull-%d" % keyed,
              k + hello + grant + push + rounds + pullreq + notify + nack + rounds + events)
        write("wire", "raw-garbage-%d" % keyed, k + step(0, b"\x58\x4d\x04\x03" + b"\0" * 60))


def lane_seeds():
    """fuzz_lane.c: op 1 is [how far ahead][a datagram the harness frames
    as the bound peer's stream]; the endpoints are the harness's (peer 5,
    session 77, to endpoint 3)."""
    ACK, DATA, RELIABLE, LANE = 1, 3, 1, 4
    piece_max = 1472 - 48 - 64
    desc = lambda t, length, total, seq=0, grant=0: struct.pack(
        "<BBHIIIQQII", t, 0, 0, length, total, seq, 0x42, 9, grant, 0)
    ext = lambda off, length: struct.pack("<IIIIII", 5, 3, off, length, 77, 0)
    lane = lambda ahead, type_, payload: step(1, bytes([ahead]) + pkt(
        type_, payload, flags=RELIABLE | LANE))
    small = lane(0, DATA, desc(SMALL, 8, 8) + ext(0, 8) + b"12345678")
    frag = [lane(0, DATA, desc(FRAG, 2000, 2000, 1) + ext(off, min(piece_max, 2000 - off)) +
                 b"f" * min(piece_max, 2000 - off)) for off in (0, piece_max)]
    rndv = lane(0, DATA, desc(RNDV, 0, 100000, 2, 7) + ext(0, 0))
    ack = step(1, b"\0" + pkt(ACK, reliable=False, flags=LANE))
    timers, rebind = step(3, b"\5"), step(4, b"")
    write("lane", "small", small + ack + timers)
    write("lane", "fragment", frag[0] + frag[1] + small)
    write("lane", "held", lane(1, DATA, desc(SMALL, 8, 8) + ext(0, 8) + b"aheadof1") + small)
    write("lane", "rendezvous", rndv + timers + rebind + small)
    write("lane", "elsewhere", step(2, b"\0" + pkt(DATA, desc(SMALL, 8, 8) + ext(0, 8) + b"x" * 8,
                                                  flags=RELIABLE | LANE)) + small)
    write("lane", "raw", step(0, b"\x58\x4d" + b"\0" * 90))
    # op 5: [copies][bytes cut off the last][how far ahead][a packet]
    run = step(5, bytes([3, 0, 0]) + pkt(DATA, desc(SMALL, 8, 8) + ext(0, 8) + b"gsorun!!",
                                       flags=RELIABLE | LANE))
    write("lane", "gso-run", run + small)
    write("lane", "handler", step(6, b"") + small + small)
    # op 7: [which][near][total:2][offset:2][bytes]; which's bits 1-3 the
    # type (2: a piece ahead, 1: a CTS, 4: a NACK), bit 4 MSG_F_AHEAD,
    # bit 5 our send went ahead
    rndv7 = lambda which, total, off, data=b"": step(7, bytes([which, 0]) +
                                                    struct.pack("<HH", total, off) + data)
    ahead = b"".join(rndv7(2 << 1, 5000, off, b"a" * 1000) for off in range(0, 5000, 1000))
    write("lane", "data-ahead", ahead + small)
    write("lane", "ahead-nack", rndv7(2 << 1, 5000, 0, b"a" * 1000) + rndv7(4 << 1 | 0x10, 0, 0) + small)
    write("lane", "ahead-done", rndv7(1 << 1 | 0x10 | 0x20, 5000, 0) + rndv7(1 << 1, 5000, 0) + small)


if __name__ == "__main__":
    control_seeds()
    ring_seeds()
    wire_seeds()
    lane_seeds()
