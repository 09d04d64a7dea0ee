#!/usr/bin/env python3
"""scsi_oracle.py - the kernel's own backstore as a differential oracle.

Usage: scsi_oracle.py KERNEL_SG OURS_SG BLOCKS SEED COUNT
       scsi_oracle.py --table    (DELIBERATE as README's markdown table)

Sends the same commands to two LUNs of BLOCKS 512-byte blocks on identical
backing files: KERNEL_SG a kernel fileio LUN, OURS_SG our user:file LUN.
First every opcode with an all-zero CDB of its group's length, then COUNT
cases drawn with SEED from families of commands (valid, boundary and
invalid fields, lengths and transfer sizes), in the same order on both.
For each it compares status, sense key/ASC/ASCQ (and the INFORMATION
field), and for commands whose data is the medium's or its geometry, the
residual and the data. A difference is accepted only where DELIBERATE
lists the case's class, and our answer must then be the one listed there.
After a write-side command the two answered differently, the kernel LUN's
blocks it named are copied to ours, so that later reads compare equal
media. The same after every UNMAP (and WRITE SAME with UNMAP) when our
LUN reports LBPRZ 0 in READ CAPACITY(16), as an rbd LUN does: SBC-3
lets such a LUN return any data for an unmapped block, while fileio's
holes read zeros. Prints each difference, then "cases N, differences D: K
deliberate, U not" and exits 1 if U > 0.
"""
import fnmatch
import random
import sys

from scsi_cmd import sg_io

BS = 512

# Where we differ from the kernel on purpose: (class pattern, fnmatch
# style; what we answer, matched against the start of our summary();
# why, with the clause). The README's table is this one.
DELIBERATE = [
    # Obsolete commands the kernel still takes as no-ops.
    ("sweep:01", "status=0x02 sense=5/20/00", "REZERO UNIT: obsolete since SBC-2"),
    ("sweep:0b", "status=0x02 sense=5/20/00", "SEEK(6): obsolete since SBC-2"),
    ("sweep:2b", "status=0x02 sense=5/20/00", "SEEK(10): obsolete since SBC-2"),
    # Commands we implement and Linux 6.1's target does not.
    ("sweep:04", "status=0x00", "FORMAT UNIT: mandatory in SBC-3 (5.3); FMTDATA 0 is a no-op"),
    ("sweep:1e", "status=0x00", "PREVENT ALLOW MEDIUM REMOVAL (SPC-4 6.13): the medium is "
     "not removable, nothing to do"),
    ("sweep:34", "status=0x00", "PRE-FETCH(10), SBC-3 5.9"),
    ("sweep:90", "status=0x00", "PRE-FETCH(16), SBC-3 5.10"),
    ("sweep:37", "status=0x00", "READ DEFECT DATA(10), SBC-3 5.18: no defects"),
    ("sweep:b7", "status=0x00", "READ DEFECT DATA(12), SBC-3 5.19: no defects"),
    ("sweep:ae", "status=0x00", "WRITE AND VERIFY(12), SBC-3 5.42"),
    ("sweep:af", "status=0x00", "VERIFY(12), SBC-3 5.34"),
    ("sweep:a3", "status=0x02 sense=5/24/00", "MAINTENANCE IN: we implement some of its "
     "service actions, so an unknown one is INVALID FIELD IN CDB (SPC-4 4.5.2.1)"),
    ("sweep:a4", "status=0x02 sense=5/24/00", "MAINTENANCE OUT: likewise"),
    ("opcodes:opt[01]", "status=0x00", "REPORT SUPPORTED OPERATION CODES, SPC-4 6.35 (not "
     "in 6.1)"),
    ("opcodes:opt[27]", "status=0x02 sense=5/24/00", "likewise: option 2 names an opcode "
     "with service actions (READ(10) has none), 7 is reserved"),
    ("inquiry:vpd8f*", "status=0x00", "VPD 0x8F Third-party Copy, SPC-4 7.8.17 (not in 6.1)"),
    ("getlbastatus*", "", "GET LBA STATUS, SBC-3 5.21 (not in 6.1: 24/00 on the service "
     "action)"),
    ("writesame16:unmap:ndob*", "status=0x00", "WRITE SAME(16) with NDOB, SBC-4 5.50 (6.1 "
     "refuses it)"),
    ("caw:n2", "", "our MAXIMUM COMPARE AND WRITE LENGTH is 128 blocks (VPD B0); the "
     "kernel's is 1"),
    ("unmap:plenok:descs2", "", "UNMAP with two descriptors: our MAXIMUM UNMAP BLOCK "
     "DESCRIPTOR COUNT is 256 (VPD B0); fileio's is 1"),
    ("startstop", "status=0x00", "START STOP UNIT, SBC-3 5.25: no power conditions, START "
     "and STOP are no-ops (6.1 refuses both)"),
    ("sweep:1b", "status=0x00", "START STOP UNIT: likewise"),
    # Where the kernel is not what SPC/SBC say.
    ("sweep:03", "status=0x00", "REQUEST SENSE with ALLOCATION LENGTH 0: not an error (SPC-4 "
     "6.39); 6.1 answers NOT READY 08/00"),
    ("sweep:0a", "status=0x02 sense=5/0e/03", "WRITE(6) of 256 blocks with no Data-Out: "
     "6.1 answers GOOD having written nothing"),
    ("write*:xfer-*", "status=0x02 sense=5/0e/03", "a write whose Data-Out is not what the "
     "CDB asks is refused, INVALID FIELD IN COMMAND INFORMATION UNIT; 6.1 answers GOOD to a "
     "short one having written nothing"),
    ("writesame*:dataout*", "status=0x02 sense=5/0e/03", "WRITE SAME's Data-Out must be one "
     "block (SBC-4 5.49); 6.1 answers 24/00 to a short one and takes a long one"),
    ("verify*:bytchk1:xfer-short", "status=0x02 sense=5/24/00", "VERIFY with BYTCHK 1 and "
     "too little data is refused; 6.1 answers GOOD having compared nothing"),
    ("verify*:bytchk1*", "status=0x02 sense=e/1d/00", "VERIFY with BYTCHK 1 compares "
     "(SBC-3 5.33), with more data than it needs too: MISCOMPARE where the data differ; 6.1 "
     "answers GOOD without comparing"),
    ("read*:xfer-long", "status=0x00", "a READ into a larger buffer: GOOD with the underflow "
     "residual (SAM-5); 6.1's fileio at times answers NOT READY 08/00"),
    ("readcap10:xfer-short", "status=0x00", "READ CAPACITY(10) into a 4-byte buffer: what "
     "fits, GOOD (SAM-5 overflow); 6.1 answers 24/00"),
    ("modesense*:pc3*", "status=0x02 sense=5/39/00", "saved values are not kept: SAVING "
     "PARAMETERS NOT SUPPORTED (SPC-4 6.11), before the page code is looked at"),
    # What TCMU cannot carry (target_core_user.c, Linux 6.1).
    ("read*:xfer-short*", "", "a READ into a buffer smaller than the CDB asks: we send what "
     "fits with GOOD; a user backstore cannot report the overflow residual (the ring's "
     "read_len only shortens the data), and 6.1's fileio refuses a buffer that is not whole "
     "blocks"),
    ("read*:n0:xfer-long*", "status=0x00", "READ of 0 blocks into a buffer: the ring's "
     "read_len of 0 does not reach the initiator, which sees the buffer's length of zeros"),
]


def summary(r, data):
    """A comparable line for one reply."""
    if r["transport"]:
        return "transport " + r["transport"]
    line = "status=0x%02x" % r["status"]
    s = r["sense"]
    if s and "key" in s:
        line += " sense=%x/%02x/%02x" % (s["key"], s["asc"], s["ascq"])
        if "info" in s:
            line += " info=%d" % s["info"]
    if data:
        line += " resid=%d" % r["resid"]
        if r["data"] is not None:
            line += " data=%s" % (r["data"][:16].hex() + ("..%d" % len(r["data"])
                                                         if len(r["data"]) > 16 else ""))
    return line


def full(r, data):
    """summary() plus the whole data, to compare."""
    return summary(r, data), (r["data"] if data else None)


class Gen:
    """Case families. A case: (class, name, cdb, data-out or None,
    data-in length, whether data and residual are compared)."""

    def __init__(self, rnd, blocks):
        self.r = rnd
        self.n = blocks

    def lba(self, count):
        """An LBA for @count blocks: inside, at the end, straddling it,
        just past it, far past it."""
        r = self.r
        return r.choice([0, r.randrange(max(1, self.n - count)), self.n - max(count, 1),
                         self.n - max(count, 1) + 1, self.n, self.n + 1000])

    def count(self, lo=0, hi=64):
        return self.r.choice([lo, 1, self.r.randrange(max(lo, 1), hi + 1), hi])

    def buflen(self, want):
        """The initiator's buffer for @want bytes: exact, short, long."""
        r = self.r
        return r.choice([want, want, want, max(0, want - BS), min(want, 200), 0, want + BS])

    def payload(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n))

    def rw(self):
        r = self.r
        op = r.choice([0x08, 0x28, 0xa8, 0x88, 0x0a, 0x2a, 0xaa, 0x8a])
        write = op in (0x0a, 0x2a, 0xaa, 0x8a)
        n = self.count(0, 64)
        lba = self.lba(n)
        if op in (0x08, 0x0a):
            lba &= 0x1fffff
            n &= 0xff
            cdb = bytes([op, lba >> 16 & 0x1f, lba >> 8 & 0xff, lba & 0xff, n, 0])
            nb = n or 256
        elif op in (0x28, 0x2a):
            cdb = bytes([op, 0]) + (lba & 0xffffffff).to_bytes(4, "big") + bytes([0]) + \
                n.to_bytes(2, "big") + bytes([0])
            nb = n
        elif op in (0xa8, 0xaa):
            cdb = bytes([op, 0]) + (lba & 0xffffffff).to_bytes(4, "big") + \
                n.to_bytes(4, "big") + bytes([0, 0])
            nb = n
        else:
            cdb = bytes([op, 0]) + lba.to_bytes(8, "big") + n.to_bytes(4, "big") + bytes([0, 0])
            nb = n
        flag = r.choice([0, 0, 0, 0x08, 0x10, 0x20, 0x02])   # FUA, DPO, RD/WRPROTECT, FUA_NV
        if op in (0x08, 0x0a):
            flag = 0
        cdb = cdb[:1] + bytes([flag]) + cdb[2:] if flag else cdb
        length = self.buflen(nb * BS)
        cls = "%s%d%s%s" % ("write" if write else "read", len(cdb),
                            ":flags%02x" % flag if flag else "", ":n0" if not nb else "")
        if length != nb * BS:
            cls += ":xfer-" + ("short" if length < nb * BS else "long")
        if write:
            return (cls, "WRITE", cdb, self.payload(length), 0, False, (lba, nb))
        return (cls, "READ", cdb, None, length, True, None)

    def verify(self):
        r = self.r
        op = r.choice([0x2f, 0x8f])
        n = self.count(0, 16)
        lba = self.lba(n)
        bytchk = r.choice([0, 0, 1])
        if op == 0x2f:
            cdb = bytes([0x2f, bytchk << 1]) + (lba & 0xffffffff).to_bytes(4, "big") + \
                bytes([0]) + n.to_bytes(2, "big") + bytes([0])
        else:
            cdb = bytes([0x8f, bytchk << 1]) + lba.to_bytes(8, "big") + \
                n.to_bytes(4, "big") + bytes([0, 0])
        out = self.payload(self.buflen(n * BS)) if bytchk else None
        cls = "verify%d:bytchk%d" % (len(cdb), bytchk)
        if out is not None and len(out) != n * BS:
            cls += ":xfer-" + ("short" if len(out) < n * BS else "long")
        return (cls, "VERIFY", cdb, out, 0, False, None)

    def sync(self):
        r = self.r
        n = self.count(0, 64)
        lba = self.lba(n)
        immed = r.choice([0, 2])
        if r.random() < 0.5:
            cdb = bytes([0x35, immed]) + (lba & 0xffffffff).to_bytes(4, "big") + bytes([0]) + \
                n.to_bytes(2, "big") + bytes([0])
        else:
            cdb = bytes([0x91, immed]) + lba.to_bytes(8, "big") + n.to_bytes(4, "big") + \
                bytes([0, 0])
        return ("sync%d" % len(cdb), "SYNCHRONIZE CACHE", cdb, None, 0, False, None)

    def write_same(self):
        r = self.r
        n = self.count(0, 16)
        lba = self.lba(n)
        unmap = r.choice([0, 0, 0x08])
        ndob = r.choice([0, 0, 0, 1]) if unmap else 0
        if r.random() < 0.5:
            cdb = bytes([0x41, unmap]) + (lba & 0xffffffff).to_bytes(4, "big") + bytes([0]) + \
                n.to_bytes(2, "big") + bytes([0])
            ndob = 0
        else:
            cdb = bytes([0x93, unmap | ndob]) + lba.to_bytes(8, "big") + n.to_bytes(4, "big") + \
                bytes([0, 0])
        block = bytes(BS) if unmap else self.payload(BS)
        out = None if ndob else r.choice([block, block, block, block + block, block[:256]])
        cls = "writesame%d%s%s" % (len(cdb), ":unmap" if unmap else "", ":ndob" if ndob else "")
        if out is not None and len(out) != BS:
            cls += ":dataout%d" % len(out)
        return (cls, "WRITE SAME", cdb, out, 0, False, (lba, n))

    def unmap(self):
        r = self.r
        descs, spans = b"", []
        for _ in range(r.choice([0, 1, 2])):
            n = self.count(0, 64)
            lba = self.lba(n)
            descs += lba.to_bytes(8, "big") + n.to_bytes(4, "big") + bytes(4)
            spans.append((lba, n))
        param = (6 + len(descs)).to_bytes(2, "big") + len(descs).to_bytes(2, "big") + \
            bytes(4) + descs
        plen = r.choice([len(param), len(param), 0, 4])
        cdb = bytes([0x42, 0, 0, 0, 0, 0, 0]) + plen.to_bytes(2, "big") + bytes([0])
        return ("unmap:plen%s:descs%d" % ("ok" if plen == len(param) else plen, len(spans)),
                "UNMAP", cdb,
                param[:plen] if plen else None, 0, False, spans)

    def caw(self):
        r = self.r
        n = r.choice([0, 1, 1, 1, 2])
        lba = self.lba(max(n, 1))
        cdb = bytes([0x89, 0]) + lba.to_bytes(8, "big") + bytes([0, 0, 0, n, 0, 0])
        out = self.payload(2 * n * BS) if n else None
        return ("caw:n%d" % n, "COMPARE AND WRITE", cdb, out, 0, False, (lba, n))

    def capacity(self):
        r = self.r
        if r.random() < 0.4:
            alloc = r.choice([8, 8, 4])
            return ("readcap10" + (":xfer-short" if alloc < 8 else ""), "READ CAPACITY(10)",
                    bytes([0x25] + [0] * 9), None, alloc, True, None)
        alloc = r.choice([0, 8, 12, 32])
        cdb = bytes([0x9e, 0x10]) + bytes(8) + alloc.to_bytes(4, "big") + bytes([0, 0])
        return ("readcap16", "READ CAPACITY(16)", cdb, None, alloc, False, None)

    def lba_status(self):
        r = self.r
        alloc = r.choice([0, 8, 16, 24, 64])
        lba = self.lba(1)
        cdb = bytes([0x9e, 0x12]) + lba.to_bytes(8, "big") + alloc.to_bytes(4, "big") + \
            bytes([0, 0])
        return ("getlbastatus", "GET LBA STATUS", cdb, None, alloc, False, None)

    def inquiry(self):
        r = self.r
        page = r.choice([None, None, 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2, 0x8f, 0x55])
        alloc = r.choice([0, 1, 5, 36, 96, 255, 1024])
        evpd = 1 if page is not None else 0
        pg = page or 0
        cls = "inquiry" + (":vpd%02x" % pg if evpd else "")
        if not evpd and r.random() < 0.2:
            pg = 0x80
            cls = "inquiry:page-without-evpd"
        cdb = bytes([0x12, evpd, pg]) + alloc.to_bytes(2, "big") + bytes([0])
        return (cls, "INQUIRY", cdb, None, alloc, False, None)

    def mode_sense(self):
        r = self.r
        page = r.choice([0x08, 0x0a, 0x1c, 0x3f, 0x2b])
        pc = r.choice([0, 0, 1, 2, 3])
        alloc = r.choice([0, 4, 255])
        dbd = r.choice([0, 8])
        if r.random() < 0.5:
            cdb = bytes([0x1a, dbd, pc << 6 | page, 0, alloc, 0])
        else:
            cdb = bytes([0x5a, dbd, pc << 6 | page, 0, 0, 0, 0]) + alloc.to_bytes(2, "big") + \
                bytes([0])
        return ("modesense%d:page%02x:pc%d" % (len(cdb), page, pc), "MODE SENSE", cdb, None,
                alloc, False, None)

    def report_luns(self):
        r = self.r
        sel = r.choice([0, 0, 1, 2, 5])
        alloc = r.choice([0, 15, 16, 512])
        cdb = bytes([0xa0, 0, sel, 0, 0, 0]) + alloc.to_bytes(4, "big") + bytes([0, 0])
        return ("reportluns:sel%d" % sel, "REPORT LUNS", cdb, None, alloc, False, None)

    def misc(self):
        r = self.r
        opt = r.choice([0, 1, 2, 7])
        return r.choice([
            ("tur", "TEST UNIT READY", bytes(6), None, 0, False, None),
            ("requestsense", "REQUEST SENSE", bytes([0x03, 0, 0, 0, 18, 0]), None, 18, False,
             None),
            ("opcodes:opt%d" % opt, "REPORT SUPPORTED OPERATION CODES",
             bytes([0xa3, 0x0c, opt, 0x28, 0, 0, 0, 0, 2, 0, 0, 0]),
             None, 512, False, None),
            ("startstop", "START STOP UNIT", bytes([0x1b, 0, 0, 0, 1, 0]), None, 0, False,
             None),
        ])

    FAMILIES = [("rw", 30), ("verify", 5), ("sync", 5), ("write_same", 8), ("unmap", 6),
                ("caw", 5), ("capacity", 4), ("lba_status", 4), ("inquiry", 6),
                ("mode_sense", 5), ("report_luns", 3), ("misc", 4)]

    def case(self):
        names = [f for f, _ in self.FAMILIES]
        weights = [w for _, w in self.FAMILIES]
        return getattr(self, self.r.choices(names, weights)[0])()


# The group's CDB length for an opcode (SPC-4 4.2.5.1; 0x7F is variable).
GROUP_LEN = [6, 10, 10, 12, 16, 12, 10, 10]


def sweep(blocks):
    for op in range(256):
        n = GROUP_LEN[op >> 5]
        # A zero WRITE(6) names 256 blocks at LBA 0; FORMAT UNIT, all.
        span = {0x04: (0, blocks), 0x0a: (0, 256)}.get(op)
        yield ("sweep:%02x" % op, "opcode 0x%02x, zero CDB" % op, bytes([op]) + bytes(n - 1),
               None, 0, False, span)


def deliberate(cls):
    for pattern, answer, why in DELIBERATE:
        if fnmatch.fnmatchcase(cls, pattern):
            return pattern, answer, why
    return None


def info_only(k, o):
    """Ours gives the INFORMATION field where the kernel leaves it out,
    the rest the same: SPC-4 4.5.2.1 lets a device server give it, and
    for LBA OUT OF RANGE and MISCOMPARE it names the LBA or offset."""
    ks, os_ = k["sense"], o["sense"]
    if not ks or not os_ or "info" in ks or "info" not in os_:
        return False
    return all(ks.get(f) == os_.get(f) for f in ("key", "asc", "ascq"))


def spans_of(span, blocks):
    for lba, n in (span if isinstance(span, list) else [span]):
        lba, end = min(lba, blocks), min(lba + max(n, 1), blocks)
        if end > lba:
            yield lba, end - lba


def resync(kdev, odev, span, blocks):
    """After a write-side command the two answered differently: the
    kernel LUN's blocks in @span copied to ours, so the next commands
    start from equal media."""
    for lba, n in spans_of(span, blocks):
        while n:
            c = min(n, 1024)
            rd = bytes([0x88, 0]) + lba.to_bytes(8, "big") + c.to_bytes(4, "big") + bytes(2)
            wr = bytes([0x8a, 0]) + lba.to_bytes(8, "big") + c.to_bytes(4, "big") + bytes(2)
            data = sg_io(kdev, rd, None, c * BS)["data"]
            if len(data) != c * BS or sg_io(odev, wr, data)["status"]:
                print("resync of %d blocks at %d failed" % (c, lba))
                return False
            lba, n = lba + c, n - c
    return True


def unmaps(cls):
    """Whether the case's class is a command that may unmap blocks."""
    return cls.startswith("unmap") or ":unmap" in cls


def lbprz(dev):
    """READ CAPACITY(16)'s LBPRZ bit: unmapped blocks read as zeros."""
    cdb = bytes([0x9e, 0x10]) + bytes(8) + (32).to_bytes(4, "big") + bytes([0, 0])
    r = sg_io(dev, cdb, None, 32)
    return r["status"] == 0 and len(r["data"]) > 14 and bool(r["data"][14] & 0x40)


def table():
    """DELIBERATE as a markdown table, for the README."""
    print("| case (class) | our answer | why |")
    print("|---|---|---|")
    for pattern, answer, why in DELIBERATE:
        print("| `%s` | %s | %s |" % (pattern, "`%s`" % answer if answer else "(any)", why))


def main(argv):
    if argv[1:] == ["--table"]:
        table()
        return 0
    kdev, odev, blocks, seed, count = argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5])
    gen = Gen(random.Random(seed), blocks)
    print("seed %d, %d drawn cases after the opcode sweep" % (seed, count))
    zeroes = lbprz(odev)
    if not zeroes:
        print("our LUN reports LBPRZ 0: what an UNMAP names is taken from the kernel's LUN "
              "after it (SBC-3 5.16: an unmapped block may read as any data)")
    cases = list(sweep(blocks)) + [gen.case() for _ in range(count)]
    known = unexpected = infos = 0
    for i, (cls, name, cdb, out, in_len, data, span) in enumerate(cases):
        k = sg_io(kdev, cdb, out, in_len)
        o = sg_io(odev, cdb, out, in_len)
        if info_only(k, o):
            infos += 1
            del o["sense"]["info"]
        ks, kd = full(k, data)
        osum, od = full(o, data)
        if ks == osum and kd == od:
            if span is not None and not zeroes and unmaps(cls) and o["status"] == 0:
                if not resync(kdev, odev, span, blocks):
                    unexpected += 1
            continue
        want = deliberate(cls)
        ok = want is not None and osum.startswith(want[1])
        if ok:
            known += 1
        else:
            unexpected += 1
        print("%s case %d %s [%s] cdb %s out %s in %d\n    kernel: %s\n    ours:   %s%s" % (
            "DIFF (deliberate)" if ok else "DIFF", i, name, cls, cdb.hex(),
            len(out) if out is not None else "-", in_len, ks, osum,
            "\n    table:  %s: %s (%s)" % want if want else ""))
        if span is not None and not resync(kdev, odev, span, blocks):
            unexpected += 1
    print("INFORMATION given by us alone (deliberate, SPC-4 4.5.2.1): %d" % infos)
    print("cases %d, differences %d: %d deliberate, %d not" % (len(cases), known + unexpected,
                                                              known, unexpected))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
