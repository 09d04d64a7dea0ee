#!/usr/bin/env python3
"""recovery_io.py - writes whose acknowledgement is recorded, and their check,
for test_recovery.sh (the daemon killed under I/O).

  recovery_io.py write DEV --first SEQ --blocks N --qd 16 --dir D --stop FILE
      QD threads write 4 KiB blocks with O_DIRECT until FILE exists. Write
      number SEQ (SEQ, SEQ+1, ...) goes to block (SEQ * ODD) mod N, so blocks
      are scattered and none is written twice before N writes. Each block
      holds a header (magic, SEQ, block) and a pattern made from SEQ. A write
      is appended to D/acks only after pwrite returned all 4096 bytes; one
      that failed goes to D/fails with its errno. At the end D/last holds the
      next SEQ, and the writer exits 0 (errors are the test's to judge).

  recovery_io.py verify DEV --blocks N --dir D [--dir D...]
      For every block some acknowledged write went to: it must hold the last
      acknowledged write, or a later one to it that failed (a write that
      failed may or may not have reached the disk). Prints the counts; exits
      1 on any other content.

Python threads release the GIL in pwrite, so QD threads keep QD writes in
flight, as fio --iodepth does, but each one is logged once acknowledged.
"""
import argparse
import mmap
import os
import struct
import sys
import threading

BS = 4096
MAGIC = b"TCMUREC1"
STRIDE = 0x9E3779B1          # odd: a permutation of blocks for any power of 2


def block_of(seq, nblocks):
    return (seq * STRIDE) % nblocks


def content(seq, nblocks):
    head = struct.pack("<8sQQ", MAGIC, seq, block_of(seq, nblocks))
    word = struct.pack("<Q", (seq * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    return head + (word * (BS // 8))[: BS - len(head)]


def write(args):
    fd = os.open(args.dev, os.O_RDWR | os.O_DIRECT)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    acks = os.open(os.path.join(args.dir, "acks"), flags, 0o644)
    fails = os.open(os.path.join(args.dir, "fails"), flags, 0o644)
    lock = threading.Lock()
    state = {"next": args.first}

    def worker():
        buf = mmap.mmap(-1, BS)          # page aligned, as O_DIRECT wants
        while not os.path.exists(args.stop):
            with lock:
                seq = state["next"]
                state["next"] += 1
            buf.seek(0)
            buf.write(content(seq, args.blocks))
            try:
                n = os.pwrite(fd, buf, block_of(seq, args.blocks) * BS)
            except OSError as e:
                os.write(fails, b"%d %d\n" % (seq, e.errno))
                continue
            if n == BS:
                os.write(acks, b"%d\n" % seq)
            else:
                os.write(fails, b"%d short:%d\n" % (seq, n))

    threads = [threading.Thread(target=worker) for _ in range(args.qd)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(os.path.join(args.dir, "last"), "w") as f:
        f.write("%d\n" % state["next"])
    return 0


def read_seqs(path):
    seqs = []
    try:
        with open(path) as f:
            for line in f:
                if line.strip():
                    seqs.append(int(line.split()[0]))
    except FileNotFoundError:
        pass
    return seqs


def verify(args):
    acked, failed = {}, {}
    for d in args.dir:
        for seq in read_seqs(os.path.join(d, "acks")):
            b = block_of(seq, args.blocks)
            acked[b] = max(acked.get(b, -1), seq)
        for seq in read_seqs(os.path.join(d, "fails")):
            failed.setdefault(block_of(seq, args.blocks), set()).add(seq)
    fd = os.open(args.dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    bad = later = 0
    for b, seq in sorted(acked.items()):
        n = os.preadv(fd, [buf], b * BS)
        data = bytes(buf[:BS])
        ok = {seq} | {s for s in failed.get(b, ()) if s > seq}
        got = struct.unpack("<8sQQ", data[:24])
        if n == BS and got[0] == MAGIC and got[1] in ok and data == content(got[1], args.blocks):
            later += got[1] != seq
            continue
        bad += 1
        if bad <= 10:
            print("block %d: acknowledged write %d, found %s" %
                  (b, seq, "magic %r seq %d block %d" % got if got[0] == MAGIC
                   else "no header (%s...)" % data[:16].hex()))
    os.close(fd)
    nfail = sum(len(s) for s in failed.values())
    print("%d blocks with acknowledged writes checked: %d intact (%d hold a later write "
          "that failed), %d not; %d writes failed" %
          (len(acked), len(acked) - bad, later, bad, nfail))
    return 1 if bad or not acked else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("dev")
    w.add_argument("--first", type=int, required=True)
    w.add_argument("--blocks", type=int, required=True)
    w.add_argument("--qd", type=int, default=16)
    w.add_argument("--dir", required=True)
    w.add_argument("--stop", required=True)
    v = sub.add_parser("verify")
    v.add_argument("dev")
    v.add_argument("--blocks", type=int, required=True)
    v.add_argument("--dir", action="append", required=True)
    args = p.parse_args()
    return write(args) if args.cmd == "write" else verify(args)


if __name__ == "__main__":
    sys.exit(main())
