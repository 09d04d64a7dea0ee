#!/usr/bin/env python3
"""scsi_cmd.py - send one SCSI command through SG_IO and report exactly what
came back, for tests that check status and sense data field by field.

Usage: scsi_cmd.py /dev/sgN CDB-HEX [--out-hex HEX | --out-file F] [--in LEN]
                   [--data-file F] [--resid]

Prints one line:
  status=0xSS [fmt=fixed|desc key=0xK asc=0xAA ascq=0xQQ [info=N] [fp=cdb|param:BYTE:BIT]]
and writes the data-in bytes (if any) as hex to stdout's second line, or to
--data-file as binary. --resid adds " resid=N" (the residual the initiator
saw) to the first line. Exits 0 when the command was delivered (whatever its
SCSI status), 1 on a transport error.
"""
import ctypes
import fcntl
import os
import sys

SG_IO = 0x2285
SG_DXFER_NONE, SG_DXFER_TO_DEV, SG_DXFER_FROM_DEV = -1, -2, -3


class SgIoHdr(ctypes.Structure):
    _fields_ = [
        ("interface_id", ctypes.c_int), ("dxfer_direction", ctypes.c_int),
        ("cmd_len", ctypes.c_ubyte), ("mx_sb_len", ctypes.c_ubyte),
        ("iovec_count", ctypes.c_ushort), ("dxfer_len", ctypes.c_uint),
        ("dxferp", ctypes.c_void_p), ("cmdp", ctypes.c_void_p),
        ("sbp", ctypes.c_void_p), ("timeout", ctypes.c_uint),
        ("flags", ctypes.c_uint), ("pack_id", ctypes.c_int),
        ("usr_ptr", ctypes.c_void_p), ("status", ctypes.c_ubyte),
        ("masked_status", ctypes.c_ubyte), ("msg_status", ctypes.c_ubyte),
        ("sb_len_wr", ctypes.c_ubyte), ("host_status", ctypes.c_ushort),
        ("driver_status", ctypes.c_ushort), ("resid", ctypes.c_int),
        ("duration", ctypes.c_uint), ("info", ctypes.c_uint),
    ]


def decode_sense(sb):
    """Key, ASC, ASCQ, INFORMATION and field pointer, either format."""
    out = {}
    code = sb[0] & 0x7F
    if code in (0x70, 0x71):
        out["fmt"] = "fixed"
        out["key"], out["asc"], out["ascq"] = sb[2] & 0xF, sb[12], sb[13]
        if sb[0] & 0x80:
            out["info"] = int.from_bytes(sb[3:7], "big")
        sks = sb[15:18]
    elif code in (0x72, 0x73):
        out["fmt"] = "desc"
        out["key"], out["asc"], out["ascq"] = sb[1] & 0xF, sb[2], sb[3]
        sks = None
        off, end = 8, 8 + sb[7]
        while off + 2 <= end:
            dtype, dlen = sb[off], sb[off + 1]
            if dtype == 0x00 and sb[off + 2] & 0x80:
                out["info"] = int.from_bytes(sb[off + 4:off + 12], "big")
            if dtype == 0x02:
                sks = sb[off + 4:off + 7]
            off += 2 + dlen
    else:
        return {"fmt": "unknown-0x%02x" % sb[0]}
    if sks and sks[0] & 0x80 and out["key"] == 0x5:
        where = "cdb" if sks[0] & 0x40 else "param"
        bit = sks[0] & 0x7 if sks[0] & 0x08 else -1
        out["fp"] = "%s:%d:%d" % (where, int.from_bytes(sks[1:3], "big"), bit)
    return out


def sg_io(dev, cdb, out_data=None, in_len=0, timeout_ms=60000):
    """One command through SG_IO on path @dev. Returns a dict: "transport"
    (None, or "host=0x.. driver=0x.." on a transport error), "status",
    "sense" (decode_sense's dict, or None), "resid", "data" (the data-in
    the initiator received, or None)."""
    if out_data is not None:
        buf = ctypes.create_string_buffer(out_data, len(out_data))
        direction, length = SG_DXFER_TO_DEV, len(out_data)
    elif in_len:
        buf = ctypes.create_string_buffer(in_len)
        direction, length = SG_DXFER_FROM_DEV, in_len
    else:
        buf, direction, length = None, SG_DXFER_NONE, 0
    cdb_buf = ctypes.create_string_buffer(cdb, len(cdb))
    sense = ctypes.create_string_buffer(96)
    hdr = SgIoHdr(interface_id=ord("S"), dxfer_direction=direction,
                  cmd_len=len(cdb), mx_sb_len=96, dxfer_len=length,
                  dxferp=ctypes.cast(buf, ctypes.c_void_p) if buf else None,
                  cmdp=ctypes.cast(cdb_buf, ctypes.c_void_p),
                  sbp=ctypes.cast(sense, ctypes.c_void_p), timeout=timeout_ms)
    fd = os.open(dev, os.O_RDWR)
    try:
        fcntl.ioctl(fd, SG_IO, hdr)
    finally:
        os.close(fd)
    out = {"transport": None, "status": hdr.status, "resid": hdr.resid,
           "sense": decode_sense(sense.raw[:hdr.sb_len_wr]) if hdr.sb_len_wr else None,
           "data": buf.raw[:length - hdr.resid] if direction == SG_DXFER_FROM_DEV else None}
    if hdr.host_status or (hdr.driver_status & ~0x08):
        out["transport"] = "host=0x%x driver=0x%x" % (hdr.host_status, hdr.driver_status)
    return out


def main(argv):
    dev, cdb = argv[1], bytes.fromhex(argv[2].replace(" ", ""))
    out_data, in_len, data_file, resid = None, 0, None, False
    i = 3
    while i < len(argv):
        if argv[i] == "--resid":
            resid = True
            i += 1
            continue
        if argv[i] == "--out-hex":
            out_data = bytes.fromhex(argv[i + 1].replace(" ", ""))
        elif argv[i] == "--out-file":
            with open(argv[i + 1], "rb") as f:
                out_data = f.read()
        elif argv[i] == "--in":
            in_len = int(argv[i + 1], 0)
        elif argv[i] == "--data-file":
            data_file = argv[i + 1]
        i += 2
    r = sg_io(dev, cdb, out_data, in_len)
    if r["transport"]:
        print("transport error " + r["transport"])
        return 1
    line = "status=0x%02x" % r["status"]
    s = r["sense"]
    if s:
        line += " fmt=%s" % s["fmt"]
        if "key" in s:
            line += " key=0x%x asc=0x%02x ascq=0x%02x" % (s["key"], s["asc"], s["ascq"])
        if "info" in s:
            line += " info=%d" % s["info"]
        if "fp" in s:
            line += " fp=%s" % s["fp"]
    if resid:
        line += " resid=%d" % r["resid"]
    print(line)
    if r["data"] is not None:
        if data_file:
            with open(data_file, "wb") as f:
                f.write(r["data"])
        else:
            print(r["data"].hex())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
