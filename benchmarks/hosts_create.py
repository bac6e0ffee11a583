"""BareMetalHost creation rate on one running hosts lab, three ways, plus the Bare Metal Operator's pace; ratios.

(a) the seed workflow: a host template (BMC Secret + BareMetalHost) through `sed | kubectl apply -f -`, one host at a
time, as scale scripts do today; (a') the reference generator's whole output (N pairs) piped into one
`kubectl apply -f -`; (b) scalelab.capi.bmh_bulk's create phase (unthrottled here: qps 0, 32 threads);
(c) the raw limit: an unthrottled client-go client writing the same pairs (benchmarks/rawcreate -kind host, 32
goroutines). Then (d) bmh_bulk with its wait: N hosts created and walked by BMO (test mode) to available; the hosts
per second BMO sustains is what limits a hosts run. Each way has its own set and namespace, deleted before the next
way, so each starts from the same idle lab. BMO is stopped while (a)-(c) write, so its reconciling of the new hosts
does not compete for the CPU with the writers (on 2 cores it made repeated runs differ by 20%); it runs for (d).

Needs a hosts lab: `ansible-playbook playbooks/scale.yml -e scale_scenario=hosts` first. Usage:
  .venv/bin/python benchmarks/hosts_create.py [--n 300] [--seed-n 30] [--kubeconfig PATH]
"""

from __future__ import annotations

import argparse
import atexit
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from common import LAB_KUBECONFIG, module, rawcreate, timed_bash

HOST_YAML = """\
apiVersion: v1
kind: Secret
metadata:
  name: HOSTNAME-bmc-secret
  namespace: bench-seed
  labels: {scalelab.io/set: bench-seed, environment.metal3.io: baremetal}
type: Opaque
data: {username: YWRtaW4=, password: cGFzc3dvcmQ=}
---
apiVersion: metal3.io/v1alpha1
kind: BareMetalHost
metadata:
  name: HOSTNAME
  namespace: bench-seed
  labels: {scalelab.io/set: bench-seed}
spec:
  online: true
  bootMACAddress: 02:5c:a3:00:00:MACBYTE
  bmc:
    address: ipmi://10.201.0.IPBYTE:623
    credentialsName: HOSTNAME-bmc-secret
"""


def delete_set(kubeconfig: str, set_name: str) -> float:
    t0 = time.monotonic()
    module("bmh_bulk", kubeconfig=kubeconfig, name=set_name, namespace=set_name, state="absent", delete_timeout=1800)
    return time.monotonic() - t0


def make_namespace(kubectl: str, kubeconfig: str, name: str) -> None:
    """A namespace labelled as the set's, so bmh_bulk state=absent removes it with the set."""
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"scalelab.io/set": name}}}
    subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "-"],
        input=json.dumps(doc),
        text=True,
        check=True,
        capture_output=True,
    )


def seed_loop(kubeconfig: str, kubectl: str, n: int) -> float:
    if n > 254:
        sys.exit("--seed-n must be <= 254 (one address octet in the template)")
    make_namespace(kubectl, kubeconfig, "bench-seed")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "host.yaml")
        with open(path, "w") as f:
            f.write(HOST_YAML)
        script = (
            f"for i in $(seq 1 {n}); do name=bench-seed-$(printf %04d $i); mac=$(printf %02x $i); "
            f'sed -e "s/HOSTNAME/$name/g" -e "s/MACBYTE/$mac/" -e "s/IPBYTE/$i/" {path} '
            f"| {kubectl} --kubeconfig {kubeconfig} apply -f - >/dev/null; done"
        )
        return timed_bash(script)


def stream_apply(kubeconfig: str, kubectl: str, n: int) -> float:
    """The generator's N host pairs in one stream into one kubectl apply (it applies them one by one)."""
    make_namespace(kubectl, kubeconfig, "bench-stream")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "host.yaml")
        with open(path, "w") as f:
            f.write(HOST_YAML.replace("bench-seed", "bench-stream"))
        script = (
            f"for i in $(seq 1 {n}); do name=bench-stream-$(printf %04d $i); "
            f"mac=$(printf %02x:%02x $((i / 256)) $((i % 256))); echo ---; "
            f'sed -e "s/HOSTNAME/$name/g" -e "s/00:00:MACBYTE/00:$mac/" -e "s/0.IPBYTE/$((i / 256)).$((i % 256))/" '
            f"{path}; done | {kubectl} --kubeconfig {kubeconfig} apply -f - >/dev/null"
        )
        return timed_bash(script)


def bmo(kubeconfig: str, action: str) -> None:
    """supervisorctl stop/start of the lab's Bare Metal Operator (the lab directory holds the kubeconfig)."""
    lab = os.path.dirname(kubeconfig)
    ctl = [f"{lab}/venv/bin/supervisorctl", "-c", f"{lab}/supervisor/supervisord.conf"]
    # "start" of a running program fails harmlessly (the exit handler starts it again in any case).
    subprocess.run([*ctl, action, "metal3-baremetal-operator"], check=action == "stop", capture_output=True)


def raw(kubectl: str, kubeconfig: str, n: int) -> dict:
    make_namespace(kubectl, kubeconfig, "bench-raw")
    return rawcreate(kubeconfig, "-kind", "host", "-n", str(n), "-set", "bench-raw", "-namespace", "bench-raw")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=LAB_KUBECONFIG)
    ap.add_argument("--n", type=int, default=300, help="hosts for bmh_bulk, the raw client and the BMO pace")
    ap.add_argument("--seed-n", type=int, default=30, help="hosts for the slow seed loop (a)")
    ap.add_argument("--kubectl", default="")
    a = ap.parse_args()
    if not os.path.isfile(a.kubeconfig):
        sys.exit(
            f"--kubeconfig {a.kubeconfig}: no lab; run: ansible-playbook playbooks/scale.yml -e scale_scenario=hosts"
        )
    built = sorted(glob.glob(os.path.expanduser("~/.cache/scalelab/bin/kubectl-*/kubectl")))
    kubectl = a.kubectl or (built or ["kubectl"])[-1]
    sets = ("bench-seed", "bench-stream", "bench-bulk", "bench-raw", "bench-pace")
    for set_name in sets:
        delete_set(a.kubeconfig, set_name)
    rows = []
    atexit.register(bmo, a.kubeconfig, "start")  # never leave the lab without its BMO
    bmo(a.kubeconfig, "stop")

    secs = seed_loop(a.kubeconfig, kubectl, a.seed_n)
    rows.append(("(a) seed loop: sed | kubectl apply", a.seed_n, secs))
    delete_set(a.kubeconfig, "bench-seed")

    secs = stream_apply(a.kubeconfig, kubectl, a.n)
    rows.append(("(a') generator | one kubectl apply -f -", a.n, secs))
    delete_set(a.kubeconfig, "bench-stream")

    common = {"kubeconfig": a.kubeconfig, "count": a.n, "qps": 0, "concurrency": 32, "mac_prefix": "02:5c:a4"}
    t0 = time.monotonic()
    res = module("bmh_bulk", name="bench-bulk", namespace="bench-bulk", **common)
    wall = time.monotonic() - t0
    rows.append(("(b) bmh_bulk (module's create phase)", a.n, a.n / res["hosts_per_second"]))
    rows.append(("(b') bmh_bulk (ansible wall time)", a.n, wall))
    lat = res["calls"]["latency_ms"]
    delete_set(a.kubeconfig, "bench-bulk")

    r = raw(kubectl, a.kubeconfig, a.n)
    if r["failed"]:
        sys.exit(f"raw client: {r['failed']} creates failed")
    rows.append(("(c) raw: client-go, 32 goroutines, no rate limit", a.n, r["seconds"]))
    delete_set(a.kubeconfig, "bench-raw")

    bmo(a.kubeconfig, "start")
    t0 = time.monotonic()
    module(
        "bmh_bulk", name="bench-pace", namespace="bench-pace", wait={"state": "available", "timeout": 3600}, **common
    )
    rows.append(("(d) bmh_bulk + BMO test mode to available", a.n, time.monotonic() - t0))
    delete_set(a.kubeconfig, "bench-pace")

    rate = {name: n / s for name, n, s in rows}
    print(f"\nBareMetalHost creation on {a.kubeconfig} (host = BMC Secret + BareMetalHost), hosts/s:")
    for name, n, s in rows:
        print(f"  {name:52s} {n:5d} hosts {s:8.2f} s {n / s:8.1f}/s")
    seed, stream, bulk, rawr, pace = (rate[rows[i][0]] for i in (0, 1, 2, 4, 5))
    print(f"  bmh_bulk per-call latency ms: P50 {lat['p50']} P90 {lat['p90']} P99 {lat['p99']} max {lat['max']}")
    print("Ratios:")
    print(f"  bmh_bulk / seed loop            {bulk / seed:8.1f}x   (target >= 100x)")
    print(f"  bmh_bulk / one kubectl apply    {bulk / stream:8.1f}x")
    print(f"  bmh_bulk / raw client-go        {bulk / rawr * 100:8.1f}%   (target >= 60%)")
    print(f"  to available / create phase     {pace / bulk * 100:8.1f}%   (BMO's pace as a share of the write rate)")
    print(f"  seed loop / to available        {seed / pace * 100:8.1f}%")


if __name__ == "__main__":
    main()
