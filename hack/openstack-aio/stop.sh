#!/bin/bash
# Stop everything start.sh started (each was started with setsid, so its pid
# is its process-group id; the whole group is signalled).
. /tmp/osaio/common.sh
[ -d "$R" ] || exit 0
stop_one() {
  local f=$1 pid
  pid=$(cat "$f" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -TERM -- -"$pid" 2>/dev/null
}
# API/compute services first, then broker, db, epmd.
for n in nova-compute nova-scheduler nova-conductor nova-api neutron glance placement keystone; do
  stop_one "$R/$n.pid"
done
sleep 2
for n in nova-compute nova-scheduler nova-conductor nova-api neutron glance placement keystone; do
  pid=$(cat "$R/$n.pid" 2>/dev/null) && kill -KILL -- -"$pid" 2>/dev/null
  rm -f "$R/$n.pid"
done
for n in rabbitmq mysqld epmd; do stop_one "$R/$n.pid"; done
for i in $(seq 1 30); do
  alive=0
  for n in rabbitmq mysqld epmd; do
    pid=$(cat "$R/$n.pid" 2>/dev/null) && kill -0 -- -"$pid" 2>/dev/null && alive=1
  done
  [ $alive = 0 ] && break
  sleep 1
done
for n in rabbitmq mysqld epmd; do
  pid=$(cat "$R/$n.pid" 2>/dev/null) && kill -KILL -- -"$pid" 2>/dev/null
  rm -f "$R/$n.pid"
done
exit 0
