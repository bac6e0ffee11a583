#!/usr/bin/env bash
# Removes what up.sh made: the sshds, the namespaces (their veths go with them) and the bridge.
set -uo pipefail
state=${NETNS_STATE:-/tmp/scalelab-netns}
for pidfile in "$state"/h*/sshd.pid; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
for ns in $(ip netns list | awk '{print $1}' | grep '^sl-h[0-9]*$'); do
  ip netns pids "$ns" | xargs -r kill -9 2>/dev/null
  ip netns del "$ns"
done
ip link del sl-br0 2>/dev/null
rm -rf "$state"
exit 0
