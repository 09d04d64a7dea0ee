#!/bin/bash
# gluster.sh - a throwaway GlusterFS volume for the glfs tests: a private
# glusterd (its own working, run and log folders under DIR, bound to
# 127.0.0.1:24007) and one brick under DIR/brick, volume write-behind off.
# No systemd, nothing in /var/lib/glusterd.
#
# Usage: tests/cluster/gluster.sh start DIR VOLUME   (DIR must not exist)
#        tests/cluster/gluster.sh stop DIR VOLUME    (all of it, by PID)
# After start: "gluster --glusterd-sock=DIR/run/glusterd.socket ..." drives
# it; the brick's host name is 127.1 (the CLI refuses "localhost" bricks
# and 127.1 resolves to 127.0.0.1 everywhere).
# Facts this relies on (Gluster 10 on Debian 12): glusterd -N stays in the
# foreground, so its PID is ours to stop; brick processes write their PIDs
# under run/vols/; their unix sockets go to /var/run/gluster whatever the
# run directory says, so stop removes them by name.
set -u
CMD=${1:-} DIR=${2:-} VOL=${3:-}
[ -n "$CMD" ] && [ -n "$DIR" ] && [ -n "$VOL" ] || { sed -n '7,8p' "$0" >&2; exit 2; }
G() { gluster --glusterd-sock="$DIR/run/glusterd.socket" --log-file="$DIR/log/cli.log" \
	--mode=script "$@"; }
die() { echo "gluster.sh: error: $*" >&2; exit 1; }

# until_ok WHAT COMMAND...: retry every 0.1 s for 60 s.
until_ok() {
	local what=$1 end=$((SECONDS + 60))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "no $what after 60 s (see $DIR/log)"
		sleep 0.1
	done
}

brick_online() { G volume status "$VOL" --xml 2>/dev/null | grep -q '<status>1</status>'; }

start() {
	[ -e "$DIR" ] && die "$DIR exists: refusing to reuse it"
	mkdir -p "$DIR"/etc "$DIR"/lib "$DIR"/run "$DIR"/log "$DIR"/brick
	cat >"$DIR/etc/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $DIR/lib
    option run-directory $DIR/run
    option glusterd-sockfile $DIR/run/glusterd.socket
    option logging-directory $DIR/log
    option transport-type socket
    option transport.socket.bind-address 127.0.0.1
    option transport.socket.listen-port 24007
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
	setsid glusterd -N -f "$DIR/etc/glusterd.vol" -l "$DIR/log/glusterd.log" -L INFO \
		</dev/null >"$DIR/log/glusterd.stdout" 2>&1 &
	echo $! >"$DIR/run/glusterd.pid"
	until_ok "glusterd" G pool list
	G volume create "$VOL" "127.1:$DIR/brick/$VOL" force >/dev/null || die "volume create"
	G volume set "$VOL" performance.write-behind off >/dev/null || die "volume set"
	G volume start "$VOL" >/dev/null || die "volume start"
	until_ok "brick online" brick_online
}

# A PID from FILE, if it still runs COMMAND-PATTERN (PIDs are reused).
ours() {
	local p
	p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] &&
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$p"
}

stop() {
	local pf p socks="" i
	for pf in "$DIR"/run/vols/*/*.pid; do
		p=$(ours "$pf" "glusterfsd.*$DIR/brick") || continue
		socks="$socks $(tr '\0' '\n' <"/proc/$p/cmdline" | sed -n '/^-S$/{n;p}')"
	done
	G volume stop "$VOL" force >/dev/null 2>&1
	G volume delete "$VOL" >/dev/null 2>&1
	for pf in "$DIR"/run/vols/*/*.pid; do
		p=$(ours "$pf" "glusterfsd.*$DIR/brick") && kill -KILL "$p"
	done
	if p=$(ours "$DIR/run/glusterd.pid" "glusterd.*$DIR/etc/glusterd.vol"); then
		kill -TERM "$p"
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	fi
	for p in $socks; do rm -f "$p"; done
	rm -rf "$DIR"
}

case $CMD in
start) start ;;
stop) stop ;;
*) die "unknown command $CMD" ;;
esac
exit 0
