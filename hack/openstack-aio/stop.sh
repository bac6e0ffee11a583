#!/usr/bin/env bash
# Stop everything start.sh started.  Each service was started with setsid, so its
# pid (in $OSAIO_STATE/run/NAME.pid) is its process-group id and the whole group
# is signalled: TERM, then KILL.  Exits non-zero if one of our ports still listens.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
APIS="nova-compute nova-scheduler nova-conductor nova-api neutron glance placement keystone"
BASE="rabbitmq mysqld epmd"
group_alive() { local pid; pid=$(cat "$R/$1.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 -- -"$pid" 2>/dev/null; }
signal() { local pid; pid=$(cat "$R/$2.pid" 2>/dev/null) && [ -n "$pid" ] && kill -"$1" -- -"$pid" 2>/dev/null; }
wait_gone() {  # wait_gone SECONDS NAMES...
  local i n alive t=$1; shift
  for i in $(seq 1 $((t * 5))); do
    alive=0; for n in "$@"; do group_alive "$n" && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.2
  done
  return 1
}
# stop NAMES... : TERM the groups, wait up to $WAIT s, KILL what is left and wait
# (up to 10 s) until it is gone: a killed process still counts until it is reaped
stop() {
  local n
  for n in "$@"; do signal TERM "$n"; done
  wait_gone "$WAIT" "$@" || { for n in "$@"; do signal KILL "$n"; done; wait_gone 10 "$@"; } || true
  for n in "$@"; do group_alive "$n" || rm -f "$R/$n.pid"; done
}
if [ -d "$R" ]; then
  WAIT=5 stop $APIS            # API/compute services first,
  WAIT=30 stop $BASE           # then broker, db, epmd
fi
left=$(ls "$R"/*.pid 2>/dev/null)
busy=$(for p in $ALL_PORTS; do ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && echo $p; done)
if [ -n "$left" ] || [ -n "$busy" ]; then
  echo "osaio stop.sh: still running: ${left:-} ports: ${busy:-}" >&2
  exit 1
fi
exit 0
