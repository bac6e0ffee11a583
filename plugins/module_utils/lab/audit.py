# Copyright: scalelab contributors
# Apache-2.0
"""What a lab leaves behind: processes that mention its directory, listening ports, the directory itself, and
objects of its sets in a management cluster that stays (the `existing` backend).

Read from /proc (Linux): no ps/ss needed, and the same answer for every user of the lab's own processes.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import re

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError, connection_cause
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import RetryPolicy

# Kinds a set is made of (label scalelab.io/set=<set>): group/version candidates, first served wins.
SET_KINDS = (
    ("Cluster", ("cluster.x-k8s.io/v1beta2", "cluster.x-k8s.io/v1beta1")),
    ("BareMetalHost", ("metal3.io/v1alpha1",)),
    ("Secret", ("v1",)),
    ("Namespace", ("v1",)),
)


def parse_proc_net(text: str, v6: bool) -> dict[int, list[str]]:
    """socket inode -> ['addr:port'] of every LISTEN row of /proc/net/tcp{,6}."""
    found: dict[int, list[str]] = {}
    for row in text.splitlines()[1:]:
        cols = row.split()
        if len(cols) < 10 or cols[3] != "0A":  # 0A = LISTEN
            continue
        addr_hex, port_hex = cols[1].split(":")
        found.setdefault(int(cols[9]), []).append(f"{hex_address(addr_hex, v6)}:{int(port_hex, 16)}")
    return found


def hex_address(hexaddr: str, v6: bool) -> str:
    """An address as /proc/net/tcp writes it (host-order 32-bit words) in its usual text form."""
    raw = bytes.fromhex(hexaddr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    return str(ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))))


def listening(proc: str = "/proc") -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            with open(f"{proc}/net/{name}") as f:
                text = f.read()
        except OSError:
            continue
        for inode, addrs in parse_proc_net(text, v6).items():
            found.setdefault(inode, []).extend(addrs)
    return found


def mentions(cmdline: bytes, directory: str) -> bool:
    """The command line (NUL-separated) names the directory or a path under it (not /x/lab2 for /x/lab)."""
    d = directory.rstrip("/").encode()
    return d + b"/" in cmdline or d + b"\0" in cmdline or cmdline.endswith(d) or d + b"=" in cmdline


def table(proc: str = "/proc") -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every live process."""
    out = {}
    for path in glob.glob(f"{proc}/[0-9]*/stat"):
        pid = int(path.split("/")[-2])
        try:
            with open(path) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                out[pid] = (ppid, f.read())
        except (OSError, ValueError, IndexError):
            continue
    return out


def of_lab(directory: str, procs: dict[int, tuple[int, bytes]], skip: tuple[int, ...] = ()) -> set[int]:
    """Processes that name the directory, or whose ancestor does (a supervisord's programs name only their flags)."""
    out = set()
    for pid in procs:
        seen, cur = 0, pid
        while cur in procs and seen < 64:
            if cur not in skip and procs[cur][1] and mentions(procs[cur][1], directory):
                out.add(pid)
                break
            cur, seen = procs[cur][0], seen + 1
    return out - set(skip)


def sockets_of(pid: int, proc: str = "/proc") -> list[int]:
    inodes = []
    for fd in glob.glob(f"{proc}/{pid}/fd/*"):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.append(int(m.group(1)))
    return inodes


def _text(cmdline: bytes) -> str:
    return cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:300]


def processes(directory: str, proc: str = "/proc", skip: tuple[int, ...] = ()) -> list[dict]:
    """Live processes of the lab (see of_lab): pid, command line and listening addresses."""
    socks, procs = listening(proc), table(proc)
    out = []
    for pid in sorted(of_lab(directory, procs, skip)):
        addrs = [a for inode in sockets_of(pid, proc) for a in socks.get(inode, [])]
        out.append({"pid": pid, "cmdline": _text(procs[pid][1]), "listening": sorted(set(addrs))})
    return out


def foreign(directory: str, ports: list[int], proc: str = "/proc") -> list[dict]:
    """Listeners on any of the ports that belong to a process not of the lab: a port collision."""
    wanted = set(ports)
    hits = {inode: [a for a in addrs if int(a.rsplit(":", 1)[1]) in wanted] for inode, addrs in listening(proc).items()}
    hits = {inode: addrs for inode, addrs in hits.items() if addrs}
    if not hits:
        return []
    procs = table(proc)
    ours = of_lab(directory, procs)
    owner = {inode: pid for pid in procs for inode in sockets_of(pid, proc) if inode in hits}
    out = []
    for inode, addrs in hits.items():
        pid = owner.get(inode, 0)
        if pid in ours:
            continue
        cmd = _text(procs[pid][1]) if pid in procs else ""
        out += [{"address": a, "port": int(a.rsplit(":", 1)[1]), "pid": pid, "cmdline": cmd} for a in addrs]
    return sorted(out, key=lambda x: (x["port"], x["address"]))


def ports_in_use(ports: list[int], proc: str = "/proc") -> list[str]:
    """Listening addresses on any of the ports."""
    wanted = set(ports)
    return sorted({a for addrs in listening(proc).values() for a in addrs if int(a.rsplit(":", 1)[1]) in wanted})


def set_objects(kubeconfig: str, context: str, sets: list[str]) -> list[dict]:
    """Objects labelled scalelab.io/set in (sets) of the kinds a set is made of; [] when there are no sets."""
    if not sets:
        return []
    selector = f"scalelab.io/set in ({','.join(sorted(sets))})"
    out = []
    with KubeClient(kubeconfig, context, timeout=10) as client:
        # A short first call: a stopped API must not hold the audit for the bulk modules' two minutes of retries.
        client.request("GET", "/readyz", policy=RetryPolicy(deadline=10))
        for kind, versions in SET_KINDS:
            for api_version in versions:
                try:
                    path = client.path(api_version, kind)
                except KubeError:
                    continue  # not served here (no Metal3 stack, an older Cluster API)
                for page in client.list_pages(path, selector, policy=RetryPolicy(deadline=30)):
                    out += [
                        {"kind": kind, "namespace": o["metadata"].get("namespace", ""), "name": o["metadata"]["name"]}
                        for o in page
                    ]
                break
    return out


def not_entry_names(names) -> list:
    """What of names is no plain entry name of a directory (a string, not "", "." or "..", no "/"): the kept entries'
    one rule (lab_audit's keep, management_cluster_keep). A value that is no list is returned whole, as [names]."""
    if isinstance(names, (str, bytes, dict)) or not isinstance(names, (list, tuple)):
        return [names]
    return [n for n in names if not isinstance(n, str) or n in ("", ".", "..") or "/" in n or "\0" in n]


def paths_left(directory: str, keep: list[str]) -> list[str]:
    """The directory when it exists; with keep (what a teardown leaves on purpose), only its other entries."""
    if not os.path.lexists(directory):
        return []
    if not keep or not os.path.isdir(directory):
        return [directory]
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name not in keep)


def audit(p: dict, skip: tuple[int, ...] = ()) -> dict:
    """Every leftover of the lab at p['dir'] (and p['ports'], p['sets'] in p['kubeconfig'] when given)."""
    found = {
        "processes": processes(p["dir"], skip=skip),
        "ports": ports_in_use(p["ports"]),
        "foreign": foreign(p["dir"], p["ports"]),
        "paths": paths_left(p["dir"], p.get("keep") or []),
        "objects": [],
        "api": "not asked",
    }
    if p.get("kubeconfig"):
        if not os.path.isfile(p["kubeconfig"]):
            found["api"] = "gone with the lab (no kubeconfig)"
        else:
            try:
                found["objects"] = set_objects(p["kubeconfig"], p.get("context", ""), p["sets"])
                found["api"] = "checked"
            except KubeError as e:
                found["api"] = f"unreachable: {e}"
            except OSError as e:
                found["api"] = f"unreachable: {connection_cause(e)}"
    found["leftovers"] = sum(len(found[k]) for k in ("processes", "ports", "paths", "objects"))
    return found


def describe(found: dict) -> list[str]:
    """One line per leftover, for a failure message."""
    lines = [f"process {p['pid']}: {p['cmdline'][:160]}" for p in found["processes"]]
    lines += [f"listening: {a}" for a in found["ports"]]
    lines += [f"path: {d}" for d in found["paths"]]
    lines += [f"{o['kind']} {o['namespace'] + '/' if o['namespace'] else ''}{o['name']}" for o in found["objects"]]
    return lines
