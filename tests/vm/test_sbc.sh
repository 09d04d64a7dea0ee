#!/bin/bash
# test_sbc.sh - the SBC-3/SPC-4 command set through the real kernel: each
# case sends commands to a user:file LUN's /dev/sgN (sg3_utils, and
# scsi_cmd.py for exact sense fields) and checks status, sense key,
# ASC/ASCQ, INFORMATION, field pointers and data. One boot.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

IMG=/tmp/sbc
mkdir -p "$IMG"
T=/tmp/sbcdata
mkdir -p "$T"

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1
truncate -s 64M "$IMG/lun.img"
tc_run "create user:file LUN" lun_create_user sbc 64M "$IMG/lun.img" || exit 1
SG=$LUN_SG SD=$LUN_SD
NLBAS=131072

sc() { python3 "$TCMU_SRC/tests/vm/scsi_cmd.py" "$SG" "$@"; }
# sense_is "TOKENS" CDB [ARGS]: the reply's first line has every token.
sense_is() {
	local want=$1 out w
	shift
	out=$(sc "$@" | head -n 1)
	echo "reply: $out (want: $want)"
	for w in $want; do
		[[ " $out " == *" $w "* ]] || return 1
	done
}
# data_is HEX CDB [ARGS]: GOOD, and the data-in bytes are HEX.
data_is() {
	local want=$1 out
	shift
	out=$(sc "$@")
	echo "$out"
	[ "$(sed -n 1p <<<"$out")" = "status=0x00" ] && [ "$(sed -n 2p <<<"$out")" = "$want" ]
}
be32() { printf '%08x' "$1"; }
be64() { printf '%016x' "$1"; }
be16() { printf '%04x' "$1"; }
# exit_is CODE CMD...: the command exits with CODE (sg3_utils' categories).
exit_is() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	echo "exit $rc (want $want)"
	[ "$rc" = "$want" ]
}
# blocks_are LBA COUNT FILE: the LUN's blocks equal FILE (read with O_DIRECT).
blocks_are() {
	cmp "$3" <(dd if="$SD" bs=512 skip="$1" count="$2" iflag=direct status=none)
}
ILLEGAL="status=0x02 key=0x5"
# A new LUN on the target gives the others a UNIT ATTENTION (REPORTED
# LUNS DATA HAS CHANGED) on their next command: take it with TEST UNIT
# READY so that it does not land on a command under test.
clear_ua() {
	local sg
	for sg in /dev/sg*; do
		sg_turs "$sg" >/dev/null 2>&1
		sg_turs "$sg" >/dev/null 2>&1
	done
	return 0
}

# --- the command table: sg_opcodes reports exactly what dispatch takes ------

opcodes_match() {
	local ours theirs
	ours=$("$TCMU_SRC/tests/build/scsi_table_dump" --list | awk '{print $1 "/" $2}' | sort)
	theirs=$(sg_opcodes -n "$SG" | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r"^\s+([0-9a-f]{2})\s+(?:([0-9a-f]+)\s+)?(\d+)\s+\S", line)
    if m:
        print("%s/%s" % (m.group(1), "%02x" % int(m.group(2), 16) if m.group(2) else "-"))
' | sort)
	echo "ours:"; echo "$ours" | tr '\n' ' '; echo
	echo "sg_opcodes:"; echo "$theirs" | tr '\n' ' '; echo
	[ -n "$ours" ] && [ "$ours" = "$theirs" ]
}
tc_run "sg_opcodes lists exactly the commands dispatch takes" opcodes_match
tc_run "RSOC one command: READ(10) usage map" \
	data_is 0003000a281affffffff1fffff00 a30c01280000000000400000 --in 64
tc_run "RSOC option 1 on an opcode with service actions: INVALID FIELD" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:2:2" a30c019e0000000000400000 --in 64
tc_run "RSOC: unsupported opcode reported as not supported" \
	data_is 00010000 a30c01d50000000000400000 --in 64
tc_run "unknown opcode: INVALID COMMAND OPERATION CODE" \
	sense_is "$ILLEGAL asc=0x20 ascq=0x00" d50000000000 --in 0
tc_run "reserved CDB bit: INVALID FIELD IN CDB with its pointer" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:5" 002000000000

# --- protection, DPO and FUA ------------------------------------------------

tc_run "READ(10) RDPROTECT=1: INVALID FIELD IN CDB, byte 1 bit 7" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:7" 2820000000000000010000 --in 512
dd if=/dev/urandom of="$T/blk" bs=512 count=1 status=none
tc_run "WRITE(16) WRPROTECT=2: INVALID FIELD IN CDB, byte 1 bit 7" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:7" "8a40$(be64 10)$(be32 1)0000" --out-file "$T/blk"
fua_write() {
	sense_is "status=0x00" "2a18$(be32 20)00$(be16 1)00" --out-file "$T/blk" &&
		cmp "$T/blk" <(dd if="$IMG/lun.img" bs=512 skip=20 count=1 status=none)
}
tc_run "WRITE(10) with DPO and FUA: GOOD, data in the backing file" fua_write

# --- VERIFY and WRITE AND VERIFY ---------------------------------------------

dd if=/dev/urandom of="$T/pat8" bs=512 count=8 status=none
dd if="$T/pat8" of="$SD" bs=512 seek=1000 oflag=direct status=none
tc_run "VERIFY BYTCHK=0 (sg_verify)" exit_is 0 sg_verify --lba=1000 --count=8 "$SG"
tc_run "VERIFY BYTCHK=1, same data (sg_verify)" \
	exit_is 0 sg_verify --ebytchk=1 --ndo=4096 --in="$T/pat8" --lba=1000 --count=8 "$SG"
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[1234] ^= 0xff
open(sys.argv[2], "wb").write(b)' "$T/pat8" "$T/pat8bad"
tc_run "VERIFY BYTCHK=1, other data (sg_verify): miscompare" \
	exit_is 14 sg_verify --ebytchk=1 --ndo=4096 --in="$T/pat8bad" --lba=1000 --count=8 "$SG"
tc_run "VERIFY(10) miscompare: MISCOMPARE DURING VERIFY, INFORMATION 1234" \
	sense_is "status=0x02 key=0xe asc=0x1d ascq=0x00 info=1234" \
	"2f02$(be32 1000)00$(be16 8)00" --out-file "$T/pat8bad"
tc_run "VERIFY(16) BYTCHK=1 same data" \
	sense_is "status=0x00" "8f02$(be64 1000)$(be32 8)0000" --out-file "$T/pat8"
for i in 1 2 3 4 5 6 7 8; do cat "$T/blk"; done >"$T/blk8"
dd if="$T/blk8" of="$SD" bs=512 seek=1100 oflag=direct status=none
tc_run "VERIFY(12) BYTCHK=3: one block matches all eight" \
	sense_is "status=0x00" "af06$(be32 1100)$(be32 8)0000" --out-file "$T/blk"
dd if=/dev/zero of="$SD" bs=512 seek=1105 count=1 conv=notrunc oflag=direct status=none
first_nonzero=$(python3 -c '
import sys
b = open(sys.argv[1], "rb").read(); print(next(i for i, x in enumerate(b) if x))' "$T/blk")
tc_run "VERIFY(12) BYTCHK=3: a differing block is a MISCOMPARE" \
	sense_is "status=0x02 key=0xe asc=0x1d info=$first_nonzero" \
	"af06$(be32 1100)$(be32 8)0000" --out-file "$T/blk"
tc_run "VERIFY BYTCHK=2 (reserved): INVALID FIELD byte 1 bit 2" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:2" "2f04$(be32 0)00$(be16 1)00" --out-file "$T/blk"
tc_run "VERIFY VRPROTECT=1: INVALID FIELD byte 1 bit 7" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:7" "2f20$(be32 0)00$(be16 1)00"
tc_run "VERIFY past the end: LBA OUT OF RANGE" \
	sense_is "$ILLEGAL asc=0x21 ascq=0x00" "2f00$(be32 $NLBAS)00$(be16 1)00"
write_verify() {
	sense_is "status=0x00" "2e02$(be32 2000)00$(be16 8)00" --out-file "$T/pat8" &&
		blocks_are 2000 8 "$T/pat8"
}
tc_run "WRITE AND VERIFY(10) BYTCHK=1: GOOD, data written" write_verify
tc_run "WRITE AND VERIFY(16) BYTCHK=3: INVALID FIELD" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:2" "8e06$(be64 2000)$(be32 1)0000" --out-file "$T/blk"

# --- COMPARE AND WRITE ------------------------------------------------------

python3 -c '
import sys
new = bytes(100) + bytes([0xab]) * 412
open(sys.argv[1], "wb").write(bytes(512) + new)     # compare zeros, write new
open(sys.argv[2], "wb").write(new)' "$T/caw" "$T/cawnew"
caw_ok() {
	exit_is 0 sg_compare_and_write --in="$T/caw" --lba=3000 --num=1 "$SG" &&
		blocks_are 3000 1 "$T/cawnew"
}
tc_run "COMPARE AND WRITE, match: the block is written (sg_compare_and_write)" caw_ok
tc_run "COMPARE AND WRITE, mismatch: sg_compare_and_write reports miscompare" \
	exit_is 14 sg_compare_and_write --in="$T/caw" --lba=3000 --num=1 "$SG"
caw_bad() {
	sense_is "status=0x02 key=0xe asc=0x1d ascq=0x00 info=100" \
		"8900$(be64 3000)000000010000" --out-file "$T/caw" &&
		blocks_are 3000 1 "$T/cawnew"
}
tc_run "COMPARE AND WRITE mismatch: INFORMATION 100, medium unchanged" caw_bad
tc_run "COMPARE AND WRITE of more blocks than VPD 0xB0 allows: INVALID FIELD" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:13:-1" "8900$(be64 3000)000000ff0000"

# --- thin provisioning ------------------------------------------------------

tc_run "VPD 0xB2: LBPU, LBPWS, LBPWS10, LBPRZ, thin" \
	data_is 00b2000400e40200 1201b2000800 --in 8
# This LUN has no write cache (tcmu's emulate_write_cache is 0: MODE
# SELECT of WCE below is refused as a change): no V_SUP.
tc_run "VPD 0x86: SIMPSUP alone, no V_SUP without a write cache" \
	data_is 0086003c00010000 120186000800 --in 8
vpd_b0() {
	local out
	out=$(sg_vpd -p 0xb0 "$SG")
	echo "$out"
	grep -q "Write same non-zero (WSNZ): 1" <<<"$out" &&
		grep -q "Maximum compare and write length: 128 blocks" <<<"$out" &&
		grep -q "Optimal transfer length granularity: 8 blocks" <<<"$out" &&
		grep -q "Maximum unmap LBA count: 1048576" <<<"$out" &&
		grep -q "Maximum unmap block descriptor count: 256" <<<"$out" &&
		grep -q "Maximum write same length: 0xffff blocks" <<<"$out"
}
tc_run "VPD 0xB0: WSNZ, COMPARE AND WRITE and unmap limits; granularity of tmpfs's 4 KiB" vpd_b0
tc_run "READ CAPACITY(16): lbpme=1, lbprz=1; 8 blocks per physical block (tmpfs's 4 KiB)" \
	sh -c "sg_readcap --16 $SG | tee /dev/stderr | grep -q 'lbpme=1, lbprz=1' &&
		sg_readcap --16 $SG | grep -q 'Logical blocks per physical block exponent=3'"
dd if=/dev/urandom of="$SD" bs=1M seek=4 count=1 oflag=direct status=none
sync
used_before=$(stat -c %b "$IMG/lun.img")
unmap_ok() {
	exit_is 0 sg_unmap --force --lba=8192 --num=2048 "$SG" &&
		cmp <(head -c 1048576 /dev/zero) <(dd if="$SD" bs=1M skip=4 count=1 iflag=direct status=none) &&
		used=$(stat -c %b "$IMG/lun.img") &&
		echo "512-byte blocks used: $used_before -> $used" &&
		[ $((used_before - used)) -ge 2048 ]
}
tc_run "UNMAP (sg_unmap): reads back zeros, the file has a hole" unmap_ok
tc_run "GET LBA STATUS: an unmapped LBA is deallocated" \
	sh -c "sg_get_lba_status --lba=8192 $SG | tee /dev/stderr | grep -qi 'deallocated'"
lba_status() {	# lba_status LBA STATUS-BYTE
	local out
	out=$(sc "9e12$(be64 "$1")$(be32 24)0000" --in 24)
	echo "$out"
	[ "$(sed -n 1p <<<"$out")" = "status=0x00" ] &&
		[ "$(sed -n 2p <<<"$out" | cut -c 17-32)" = "$(be64 "$1")" ] &&
		[ "$(sed -n 2p <<<"$out" | cut -c 41-42)" = "$2" ]
}
tc_run "GET LBA STATUS: a written LBA is mapped" lba_status 1000 00
tc_run "GET LBA STATUS past the end: LBA OUT OF RANGE" \
	sense_is "$ILLEGAL asc=0x21" "9e12$(be64 $NLBAS)$(be32 24)0000" --in 24
tc_run "UNMAP parameter list of 4 bytes: PARAMETER LIST LENGTH ERROR" \
	sense_is "$ILLEGAL asc=0x1a ascq=0x00" 42000000000000000400 --out-hex 00000000
tc_run "UNMAP past the end: LBA OUT OF RANGE" \
	sense_is "$ILLEGAL asc=0x21" 42000000000000001800 \
	--out-hex "00160010 00000000 $(be64 $((NLBAS - 4)))$(be32 8)00000000"
tc_run "UNMAP with ANCHOR: INVALID FIELD byte 1 bit 0" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:0" 42010000000000001800 \
	--out-hex "00160010 00000000 $(be64 100)$(be32 8)00000000"
ws_pattern() {
	exit_is 0 sg_write_same --16 --in="$T/blk" --lba=4000 --num=64 "$SG" &&
		for i in $(seq 8); do cat "$T/blk8"; done >"$T/blk64" &&
		blocks_are 4000 64 "$T/blk64"
}
tc_run "WRITE SAME(16): one block replicated (sg_write_same)" ws_pattern
head -c 512 /dev/zero >"$T/zero"
ws_unmap() {
	exit_is 0 sg_write_same --16 --unmap --in="$T/zero" --lba=4096 --num=64 "$SG" &&
		blocks_are 4096 64 <(head -c 32768 /dev/zero) &&
		lba_status 4096 01
}
tc_run "WRITE SAME(16) UNMAP with a zero block: deallocated, reads zeros" ws_unmap
ws_ndob() {
	dd if="$T/blk8" of="$SD" bs=512 seek=5000 oflag=direct status=none &&
		sense_is "status=0x00" "9301$(be64 5000)$(be32 8)0000" &&
		blocks_are 5000 8 <(head -c 4096 /dev/zero)
}
tc_run "WRITE SAME(16) NDOB: zeros without a data-out buffer" ws_ndob
ws10() {
	sense_is "status=0x00" "4100$(be32 6000)00$(be16 8)00" --out-file "$T/blk" &&
		blocks_are 6000 8 "$T/blk8"
}
tc_run "WRITE SAME(10): replicated" ws10
tc_run "WRITE SAME of zero blocks (WSNZ): INVALID FIELD byte 10" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:10:-1" "9300$(be64 6000)$(be32 0)0000" --out-file "$T/blk"

# --- the small ones ---------------------------------------------------------

tc_run "PRE-FETCH(10) in range: GOOD" sense_is "status=0x00" "3400$(be32 100)00$(be16 8)00"
tc_run "PRE-FETCH(16) past the end: LBA OUT OF RANGE" \
	sense_is "$ILLEGAL asc=0x21" "9000$(be64 $NLBAS)$(be32 1)0000"
tc_run "READ DEFECT DATA(10): empty list" data_is 00180000 37001800000000000400 --in 4
tc_run "READ DEFECT DATA(12): empty list" data_is 0018000000000000 b71800000000000000080000 --in 8
tc_run "PREVENT ALLOW MEDIUM REMOVAL (sg_prevent)" exit_is 0 sg_prevent --prevent=1 "$SG"
tc_run "START STOP UNIT start (sg_start)" exit_is 0 sg_start --start "$SG"
tc_run "START STOP UNIT eject: INVALID FIELD (sg_start exits 5)" exit_is 5 sg_start --eject "$SG"
tc_run "FORMAT UNIT without parameter data: GOOD" sense_is "status=0x00" 040000000000
tc_run "FORMAT UNIT with FMTPINFO: INVALID FIELD byte 1 bit 7" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:7" 048000000000
tc_run "FORMAT UNIT parameter list with IP: INVALID FIELD IN PARAMETER LIST" \
	sense_is "$ILLEGAL asc=0x26 fp=param:1:3" 041000000000 --out-hex 00080000
inq_short() {
	local out
	out=$(sc 120000000500 --in 36)
	echo "$out"
	[ "$(sed -n 2p <<<"$out")" = "000006023d" ]	# 0x3d: 61 more bytes
}
tc_run "INQUIRY with allocation length 5: 5 bytes, no more" inq_short
tc_run "INQUIRY VPD page 0x99: INVALID FIELD byte 2" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:2:-1" 120199004000 --in 64

# --- mode pages and sense formats ---------------------------------------------

tc_run "MODE SENSE saved values: SAVING PARAMETERS NOT SUPPORTED" \
	sense_is "$ILLEGAL asc=0x39 ascq=0x00" 1a00ff00ff00 --in 255
changeable() {
	local out
	out=$(sc 1a084a00ff00 --in 255)
	echo "$out"
	[ "$(sed -n 2p <<<"$out")" = "0f0010000a0a04000000000000000000" ]
}
tc_run "MODE SENSE changeable control page (DBD): D_SENSE the one bit" changeable
tc_run "MODE SENSE informational exceptions page (DBD): DEXCPT, MRIE 0" \
	data_is 0f0010001c0a08000000000000000000 1a081c00ff00 --in 255
mode_select_dsense() {
	# Header (8 bytes) and the control page with D_SENSE set.
	sense_is "status=0x00" 55100000000000001400 \
		--out-hex 00000000000000000a0a041000400000ffff0000 &&
		sense_is "status=0x02 fmt=desc key=0x5 asc=0x20" d50000000000 &&
		sense_is "status=0x02 fmt=desc key=0x5 asc=0x24 fp=cdb:1:7" \
			2820000000000000010000 --in 512 &&
		sense_is "status=0x00" 55100000000000001400 \
			--out-hex 00000000000000000a0a001000400000ffff0000 &&
		sense_is "status=0x02 fmt=fixed key=0x5 asc=0x20" d50000000000
}
tc_run "MODE SELECT D_SENSE=1: descriptor sense with field pointer, then back" mode_select_dsense
tc_run "MODE SELECT changing WCE (not changeable): INVALID FIELD IN PARAMETER LIST" \
	sense_is "$ILLEGAL asc=0x26 fp=param:10:-1" 55100000000000001c00 \
	--out-hex "0000000000000000 0812 04 0000000000000000000000000000000000"
tc_run "MODE SELECT with SP=1: INVALID FIELD byte 1 bit 0" \
	sense_is "$ILLEGAL asc=0x24 fp=cdb:1:0" 55110000000000000000

# --- ALUA: the kernel's target port groups, answered by us -----------------

CFS=/sys/kernel/config/target
rtpi=$(cat "$CFS"/loopback/*/tpgt_*/lun/lun_"${_LUN_NUM[sbc]}"/statistics/scsi_port/indx)
rtpg() {	# rtpg STATE: one group (id 0) in STATE, with our port
	local out want
	out=$(sc a30a00000000000004000000 --in 1024)
	echo "$out (rtpi $rtpi)"
	want="0000000c0$1??0000000?0001 0000$(be16 "$rtpi")"
	[ "$(sed -n 1p <<<"$out")" = "status=0x00" ] &&
		[[ "$(sed -n 2p <<<"$out")" == ${want// /} ]]
}
tc_run "REPORT TARGET PORT GROUPS: default group, active/optimized, our port" rtpg 0
tc_run "sg_rtpg decodes it" sh -c "sg_rtpg -d $SG | tee /dev/stderr | grep -qi 'active/optimized'"
tc_run "INQUIRY: TPGS=3 (implicit and explicit), 3PC=1" \
	sh -c "sg_inq $SG | tee /dev/stderr | grep -q 'TPGS=3' && sg_inq $SG | grep -q '3PC=1'"
vpd83_ports() {
	local out
	out=$(sg_vpd -p 0x83 "$SG")
	echo "$out"
	grep -qi "Relative target port: 0x$(printf '%x' "$rtpi")" <<<"$out" &&
		grep -qi "Target port group: 0x0" <<<"$out"
}
tc_run "VPD 0x83: relative target port and target port group" vpd83_ports
stpg_standby() {
	exit_is 0 sg_stpg --standby --tp=0 "$SG" &&
		[ "$(cat "$CFS"/core/user_*/sbc/alua/default_tg_pt_gp/alua_access_state)" = 2 ] &&
		sense_is "status=0x02 key=0x6 asc=0x2a ascq=0x06" 000000000000 &&
		rtpg 2 &&
		sense_is "status=0x02 key=0x2 asc=0x04 ascq=0x0b" 2800000000000000010000 --in 512
}
tc_run "SET TARGET PORT GROUPS standby: configfs, the kernel's UNIT ATTENTION, RTPG and reads agree" stpg_standby
stpg_back() {
	exit_is 0 sg_stpg --optimized --tp=0 "$SG" && clear_ua && rtpg 0 &&
		sense_is "status=0x00" 2800000000000000010000 --in 512
}
tc_run "SET TARGET PORT GROUPS back to active/optimized: I/O flows" stpg_back
tc_run "SET TARGET PORT GROUPS for a group that does not exist: INVALID FIELD IN PARAMETER LIST" \
	sense_is "$ILLEGAL asc=0x26 fp=param:6:-1" a40a00000000000000080000 --out-hex 0000000000000007

# --- EXTENDED COPY between two of our LUNs, and to one that is not ours ------

truncate -s 16M "$IMG/lun2.img"
tc_run "create a second user:file LUN" lun_create_user sbc2 16M "$IMG/lun2.img" || exit 1
SG2=$LUN_SG SD2=$LUN_SD
clear_ua
RCOP=0000002a01000000000800100000$(be32 720 | cut -c 5-8)04000000
RCOP=${RCOP}00000000000000000000000000000001010900000000000202e4
tc_run "RECEIVE COPY OPERATING PARAMETERS: limits and descriptor types" \
	data_is "${RCOP// /}" "84030000000000000000$(be32 64)0000" --in 64
dd if=/dev/urandom of="$T/xc" bs=512 count=2048 status=none
dd if="$T/xc" of="$SD" bs=512 seek=20000 oflag=direct status=none
xcopy_ours() {
	exit_is 0 sg_xcopy if="$SG" of="$SG2" bs=512 skip=20000 seek=100 count=2048 &&
		cmp "$T/xc" <(dd if="$SD2" bs=512 skip=100 count=2048 iflag=direct status=none)
}
tc_run "EXTENDED COPY between our two LUNs (sg_xcopy): data arrives" xcopy_ours
naa_of() {	# the 16-byte NAA designator of a LUN, in hex
	sc 120183010000 --in 256 | sed -n 2p | python3 -c '
import sys
b = bytes.fromhex(sys.stdin.read().strip()); off = 4
while off + 4 <= len(b):
    if b[off + 1] & 0x3f == 0x03 and b[off + 3] == 16:
        print(b[off + 4:off + 20].hex()); break
    off += 4 + b[off + 3]'
}
xcopy_list() {	# xcopy_list SRC_NAA DST_NAA SRC_LBA DST_LBA NBLOCKS [SEGTYPE]
	python3 - "$@" <<'PY'
import sys
src, dst = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
slba, dlba, n = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
segtype = int(sys.argv[6], 0) if len(sys.argv) > 6 else 2
def cscd(naa):
    return bytes([0xe4, 0, 0, 0, 1, 3, 0, 16]) + naa + bytes(4) + bytes([0, 0, 2, 0])
seg = bytes([segtype, 0, 0, 24, 0, 0, 0, 1, 0, 0]) + n.to_bytes(2, "big") + \
    slba.to_bytes(8, "big") + dlba.to_bytes(8, "big")
# LIST ID USAGE 11b (nothing held) wants LIST IDENTIFIER 0 (SPC-4).
hdr = bytes([0, 0x18, 0, 64, 0, 0, 0, 0, 0, 0, 0, len(seg), 0, 0, 0, 0])
print((hdr + cscd(src) + cscd(dst) + seg).hex())
PY
}
xcopy_raw() {	# hand-built list to the second LUN, then compare
	local list
	list=$(xcopy_list "$(naa_of)" "$(SG=$SG2 naa_of)" 20000 3000 64)
	echo "list: $list"
	sense_is "status=0x00" "83000000000000000000$(be32 $((${#list} / 2)))0000" --out-hex "$list" &&
		cmp <(head -c 32768 "$T/xc") <(dd if="$SD2" bs=512 skip=3000 count=64 iflag=direct status=none)
}
tc_run "EXTENDED COPY with identification descriptors built by hand" xcopy_raw
truncate -s 16M /tmp/kernel-lun.img
tc_run "create a kernel fileio LUN (not ours)" lun_create_fileio kfile 16M /tmp/kernel-lun.img || exit 1
SGK=$LUN_SG
clear_ua
xcopy_not_ours() {
	local list
	list=$(xcopy_list "$(naa_of)" "$(SG=$SGK naa_of)" 20000 0 64)
	echo "list: $list"
	sense_is "status=0x02 key=0xa asc=0x0d ascq=0x02" \
		"83000000000000000000$(be32 $((${#list} / 2)))0000" --out-hex "$list"
}
tc_run "EXTENDED COPY to a LUN not ours: COPY ABORTED, TARGET NOT REACHABLE" xcopy_not_ours
xcopy_bad_seg() {
	local list
	list=$(xcopy_list "$(naa_of)" "$(naa_of)" 0 8 1 0x0a)
	sense_is "$ILLEGAL asc=0x26 ascq=0x09" \
		"83000000000000000000$(be32 $((${#list} / 2)))0000" --out-hex "$list"
}
tc_run "EXTENDED COPY with an unsupported segment type: UNSUPPORTED SEGMENT DESCRIPTOR" \
	xcopy_bad_seg
tc_run "VPD 0x8F decodes (sg_vpd)" sh -c "sg_vpd -p 0x8f $SG | tee /dev/stderr | grep -qi 'copy'"
tc_run "fileio LUN deleted" lun_delete kfile
tc_run "second LUN deleted" lun_delete sbc2

tc_run "LUN deleted" lun_delete sbc
tc_run "daemon stops cleanly" daemon_stop
tc_summary
