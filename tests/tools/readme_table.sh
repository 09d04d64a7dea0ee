#!/bin/bash
# readme_table.sh update|check - README.md's SCSI table is generated from
# the command table in the code (tests/build/scsi_table_dump --markdown).
# "update" rewrites it between the markers; "check" fails if it differs,
# so the README cannot drift from what the daemon does.
set -eu
cd "$(dirname "$0")/../.."
begin='<!-- scsi-table:begin (make readme-table) -->'
end='<!-- scsi-table:end -->'
table=$(tests/build/scsi_table_dump --markdown)
current=$(sed -n "/^$begin\$/,/^$end\$/p" README.md | sed '1d;$d')
case ${1:-check} in
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
		echo "README.md's SCSI table is stale: run make readme-table"
		exit 1
	fi
	;;
esac
