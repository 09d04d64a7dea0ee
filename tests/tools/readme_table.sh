#!/bin/bash
# readme_table.sh update|check - README.md's SCSI table is generated from
# the command table in the code (tests/build/scsi_table_dump --markdown),
# and its table of deliberate differences from the kernel's backstore from
# the oracle's (tests/vm/scsi_oracle.py --table).
# "update" rewrites it between the markers; "check" fails if it differs,
# so the README cannot drift from what the daemon does.
set -eu
cd "$(dirname "$0")/../.."

# one NAME COMMAND: the README's table between NAME's markers.
one() {
	local begin="<!-- $1:begin (make readme-table) -->" end="<!-- $1:end -->"
	local table current
	table=$($2)
	current=$(sed -n "/^$begin\$/,/^$end\$/p" README.md | sed '1d;$d')
	case $mode in
	update)
		python3 - "$begin" "$end" "$table" <<'PY'
import sys
begin, end, table = sys.argv[1:4]
text = open("README.md").read()
a = text.index(begin) + len(begin)
b = text.index(end)
open("README.md", "w").write(text[:a] + "\n" + table + "\n" + text[b:])
PY
		;;
	check)
		if [ "$current" != "$table" ]; then
			diff <(echo "$current") <(echo "$table") || true
			echo "README.md's $1 is stale: run make readme-table"
			return 1
		fi
		;;
	esac
}
mode=${1:-check}
one scsi-table "tests/build/scsi_table_dump --markdown"
one oracle-table "python3 tests/vm/scsi_oracle.py --table"
