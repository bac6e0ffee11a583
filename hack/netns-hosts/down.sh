#!/usr/bin/env bash
# Removes what up.sh made: every process in the namespaces (sshd, and whatever a lab left), the namespaces, their
# veths and the bridge. Waits until they are gone: the kernel frees a namespace (and its veth) only once its last
# process has exited, and up.sh right after would find the old veth.
set -uo pipefail
state=${NETNS_STATE:-/var/lib/scalelab-netns}
for ns in $(ip netns list | awk '{print $1}' | grep '^sl-h[0-9]*$'); do
  ip netns pids "$ns" | xargs -r kill -9 2>/dev/null
  for _ in $(seq 1 50); do [ -z "$(ip netns pids "$ns")" ] && break; sleep 0.1; done
  ip netns del "$ns"
done
for link in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^sl-v[0-9]+$'); do
  ip link del "$link" 2>/dev/null
done
ip link del sl-br0 2>/dev/null
for _ in $(seq 1 50); do ip -o link show | grep -qE ': (sl-v[0-9]+|sl-br0)[@:]' || break; sleep 0.1; done
rm -rf "$state"
exit 0
