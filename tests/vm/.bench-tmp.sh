#!/bin/bash
. tests/vm/guest-lib.sh
grep -o 'cache=[a-z]*' /proc/mounts | sort | uniq -c
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(echo "$(date +%s.%N) - $s" | bc) s: $*"; }
t python3 -c pass
t python3 -c pass
lio_load; bus_start
t targetcli ls
t targetcli ls
t targetcli ls /backstores
t targetcli /loopback create
t targetcli ls
ls -la /dev/fd/ | head -3
