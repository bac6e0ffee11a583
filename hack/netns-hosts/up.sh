#!/usr/bin/env bash
# N "hosts" on this machine for multi-host tests: network namespaces sl-h1..N on a bridge, each with its own sshd,
# so Ansible reaches them over SSH like remote machines. Each host also has a mount namespace of its own with private
# /root (HOME: caches, lab directories), /tmp and /var/tmp ($NETNS_STATE/h<i>/fs), so a file one host writes is
# unseen by the others and by this machine: what crosses hosts must be copied, as on real machines. Shared, as
# system directories: /usr, /etc, /run, /var/lib and this checkout; the Python of NETNS_PYTHON (its installation
# read-only where it lives under /root, e.g. pyenv),
# the Go toolchain, and Go's module and build caches as the read-only lower layer of an overlay per host (writes
# stay on the host; content-addressed, so nothing behaves differently, only faster).
#   hack/netns-hosts/up.sh 3            -> farm-1..3 on 10.77.0.11..13, the bridge (this machine) is 10.77.0.1
#   hack/netns-hosts/up.sh 5 2          -> mgmt-1..2 (group management) on .11-.12, farm-1..3 on .13-.15
# Writes $NETNS_STATE/hosts.yml (an inventory: management hosts with their own lab name and the apiserver on their
# address, farm hosts with farm and metrics on theirs) and prints it. Needs root, iproute2, openssh-server.
# Bounded: N <= 8. The hosts have no route out: the roles copy what they need from the controller.
set -euo pipefail
n=${1:-3}
m=${2:-0}
state=${NETNS_STATE:-/var/lib/scalelab-netns}
net=${NETNS_NET:-10.77.0}
br=sl-br0
[ "$n" -ge 1 ] && [ "$n" -le 8 ] || { echo "up.sh: N=$n must be 1-8" >&2; exit 2; }
[ "$m" -ge 0 ] && [ "$m" -lt "$n" ] || { echo "up.sh: M=$m management hosts must be 0 to N-1" >&2; exit 2; }
[ -x /usr/sbin/sshd ] || { echo "up.sh: /usr/sbin/sshd missing (apt-get install openssh-server)" >&2; exit 2; }
case $(realpath -m "$state")/ in
  /tmp/* | /var/tmp/* | /root/* | /home/*)
    echo "up.sh: NETNS_STATE=$state must not be under /tmp, /var/tmp, /root or /home (private on each host; sshd reads its keys there)" >&2
    exit 2 ;;
esac
gocache="" gomodcache=""
if command -v go >/dev/null; then gocache=$(go env GOCACHE) gomodcache=$(go env GOMODCACHE); fi
# The Python the inventory names may live under /root (pyenv): its installation is shared read-only, a toolchain.
pyprefix=$(dirname "$(dirname "$(readlink -f "${NETNS_PYTHON:-$(command -v python3)}")")")
mkdir -p "$state" /run/sshd
chmod 700 "$state"
[ -f "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C scalelab-netns -f "$state/id_ed25519"
cp "$state/id_ed25519.pub" "$state/authorized_keys"
chmod 600 "$state/authorized_keys"
if ! ip link show "$br" >/dev/null 2>&1; then
  ip link add "$br" type bridge
  ip addr add "$net.1/24" dev "$br"
fi
ip link set "$br" up
py=${NETNS_PYTHON:-$(command -v python3)}
{
  echo "# hosts of hack/netns-hosts/up.sh (network namespaces on $br, sshd each)"
  echo "all:"
  echo "  vars:"
  echo "    ansible_connection: ssh"
  echo "    ansible_user: root"
  echo "    ansible_ssh_private_key_file: $state/id_ed25519"
  echo "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
  echo "    ansible_python_interpreter: $py"
  # sshd's PATH lacks a Go installed under /usr/local: name the controller's (a system directory, shared).
  if command -v go >/dev/null; then echo "    binaries_go: $(command -v go)"; fi
  echo "  children:"
} > "$state/hosts.yml"
mgmt="" farm=""
for i in $(seq 1 "$n"); do
  ns=sl-h$i addr=$net.$((10 + i)) d=$state/h$i
  mkdir -p "$d"
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip link add "sl-v$i" type veth peer name eth0 netns "$ns"
    ip link set "sl-v$i" master "$br" up
    ip netns exec "$ns" ip addr add "$addr/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip route add default via "$net.1"
  fi
  [ -f "$d/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N "" -f "$d/ssh_host_ed25519_key"
  cat > "$d/sshd_config" <<CFG
ListenAddress $addr
Port 22
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $state/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
CFG
  if ! { [ -f "$d/sshd.pid" ] && kill -0 "$(cat "$d/sshd.pid")" 2>/dev/null; }; then
    fs=$d/fs
    mkdir -p "$fs/root" "$fs/tmp" "$fs/var-tmp" "$d/overlay"
    chmod 700 "$fs/root"
    chmod 1777 "$fs/tmp" "$fs/var-tmp"
    # sshd and every session it starts live in this mount namespace: private /root, /tmp, /var/tmp.
    ip netns exec "$ns" unshare --mount --propagation private /bin/bash -c '
      set -e
      fs=$1 d=$2 gocache=$3 gomodcache=$4 pyprefix=$5
      for pair in "go-build:$gocache" "go-mod:$gomodcache"; do
        name=${pair%%:*} lower=${pair#*:}
        [ -n "$lower" ] && [ -d "$lower" ] || continue
        target=$fs/root/${lower#/root/}
        case $lower in /root/*) ;; *) target=$lower ;; esac
        mkdir -p "$target" "$d/overlay/$name/upper" "$d/overlay/$name/work"
        mount -t overlay "sl-$name" -o "lowerdir=$lower,upperdir=$d/overlay/$name/upper,workdir=$d/overlay/$name/work" "$target"
      done
      case $pyprefix in
        /root/?*)
          mkdir -p "$fs$pyprefix"
          mount --bind "$pyprefix" "$fs$pyprefix"
          mount -o remount,bind,ro "$fs$pyprefix" ;;
      esac
      mount --rbind "$fs/root" /root
      mount --bind "$fs/tmp" /tmp
      mount --bind "$fs/var-tmp" /var/tmp
      exec /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log"' _ "$fs" "$d" "$gocache" "$gomodcache" "$pyprefix"
  fi
  if [ "$i" -le "$m" ]; then
    mgmt+="        mgmt-$i:
          ansible_host: $addr
          management_cluster_name: netns-mgmt-$i
          management_cluster_bind_address: $addr
"
  else
    farm+="        farm-$((i - m)):
          ansible_host: $addr
          apiserver_farm_host: $addr
          apiserver_farm_metrics_bind_address: $addr
"
  fi
done
if [ "$m" -gt 0 ]; then printf '    management:\n      hosts:\n%s' "$mgmt" >> "$state/hosts.yml"; fi
printf '    farm:\n      hosts:\n%s' "$farm" >> "$state/hosts.yml"
# Every sshd answers before we return.
for i in $(seq 1 "$n"); do
  for _ in $(seq 1 50); do
    ssh -i "$state/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
      -o ConnectTimeout=2 -o BatchMode=yes "root@$net.$((10 + i))" true 2>/dev/null && break
    sleep 0.2
  done
done
cat "$state/hosts.yml"
