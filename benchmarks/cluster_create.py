"""Cluster creation rate on one running lab, four ways, measured in one run; prints the ratios.

(a) the seed workflow: `sed "s/in-memory-test/$name/g" cluster.yaml | kubectl apply -f -`, one cluster at a time;
(b) a kubernetes.core.k8s loop in a playbook; (c) scalelab.capi.cluster_bulk; (d) the raw limit: an unthrottled
client-go client (benchmarks/rawcreate, 32 goroutines, QPS -1). Every way creates the same Cluster object (our
in-memory ClusterClass, 1 control-plane machine); each set is deleted (and finalized) before the next way runs, so
each starts from the same idle lab.

Needs a lab: `ansible-playbook playbooks/scale.yml` first. Usage:
  .venv/bin/python benchmarks/cluster_create.py [--n 200] [--seed-n 30] [--kubeconfig PATH]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from common import BIN, LAB_KUBECONFIG, ROOT, module, rawcreate, timed_bash

CLUSTER_YAML = """\
apiVersion: cluster.x-k8s.io/{api}
kind: Cluster
metadata:
  name: in-memory-test
  namespace: default
  labels:
    scalelab.io/set: {set}
spec:
  clusterNetwork:
    services: {{cidrBlocks: [10.128.0.0/12]}}
    pods: {{cidrBlocks: [192.168.0.0/16]}}
    serviceDomain: cluster.local
  topology:
    {class_ref}
    version: v1.35.4
    controlPlane: {{replicas: 1}}
    workers:
      machineDeployments: [{{class: default-worker, name: md-0, replicas: 0}}]
"""


def delete_set(kubeconfig: str, set_name: str) -> float:
    t0 = time.monotonic()
    module("cluster_bulk", kubeconfig=kubeconfig, name=set_name, state="absent", delete_timeout=1800)
    return time.monotonic() - t0


def seed_loop(kubeconfig: str, kubectl: str, n: int, api: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cluster.yaml")
        class_ref = "class: scalelab-in-memory" if api == "v1beta1" else "classRef: {name: scalelab-in-memory}"
        with open(path, "w") as f:
            f.write(CLUSTER_YAML.format(api=api, set="bench-seed", class_ref=class_ref))
        script = (
            f"for i in $(seq -w 1 {n}); do name=bench-seed-00$i; "
            f'sed "s/in-memory-test/$name/g" {path} | {kubectl} --kubeconfig {kubeconfig} apply -f - >/dev/null; done'
        )
        return timed_bash(script)


def k8s_loop(kubeconfig: str, n: int, api: str) -> float:
    topology = {"version": "v1.35.4", "controlPlane": {"replicas": 1}}
    topology["workers"] = {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 0}]}
    if api == "v1beta1":
        topology["class"] = "scalelab-in-memory"
    else:
        topology["classRef"] = {"name": "scalelab-in-memory"}
    definition = {
        "apiVersion": f"cluster.x-k8s.io/{api}",
        "kind": "Cluster",
        "metadata": {"name": "bench-k8s-{{ '%04d' % item }}", "namespace": "default"},
        "spec": {
            "clusterNetwork": {
                "services": {"cidrBlocks": ["10.128.0.0/12"]},
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "serviceDomain": "cluster.local",
            },
            "topology": topology,
        },
    }
    definition["metadata"]["labels"] = {"scalelab.io/set": "bench-k8s"}
    play = [
        {
            "name": "kubernetes.core.k8s loop",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Create a cluster",
                    "kubernetes.core.k8s": {"kubeconfig": kubeconfig, "state": "present", "definition": definition},
                    "loop": f"{{{{ range(1, {n} + 1) | list }}}}",
                }
            ],
        }
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, delete=False) as f:
        json.dump(play, f)
    try:
        t0 = time.monotonic()
        subprocess.run([f"{BIN}/ansible-playbook", f.name], cwd=ROOT, check=True, capture_output=True)
        return time.monotonic() - t0
    finally:
        os.unlink(f.name)


def raw(kubeconfig: str, n: int, api: str) -> dict:
    return rawcreate(kubeconfig, "-n", str(n), "-set", "bench-raw", "-api-version", api)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=LAB_KUBECONFIG)
    ap.add_argument("--n", type=int, default=200, help="clusters for cluster_bulk and the raw client")
    ap.add_argument("--seed-n", type=int, default=30, help="clusters for the slow loops (a) and (b)")
    ap.add_argument("--kubectl", default="")
    a = ap.parse_args()
    if not os.path.isfile(a.kubeconfig):
        sys.exit(f"--kubeconfig {a.kubeconfig}: no lab; run ansible-playbook playbooks/scale.yml first")
    built = sorted(glob.glob(os.path.expanduser("~/.cache/scalelab/bin/kubectl-*/kubectl")))
    kubectl = a.kubectl or (built or ["kubectl"])[-1]
    served = subprocess.run(
        [kubectl, "--kubeconfig", a.kubeconfig, "api-versions"], capture_output=True, text=True, check=True
    ).stdout
    api = "v1beta2" if "cluster.x-k8s.io/v1beta2" in served else "v1beta1"
    rows = []
    for set_name in ("bench-seed", "bench-k8s", "bench-bulk", "bench-raw"):
        delete_set(a.kubeconfig, set_name)

    secs = seed_loop(a.kubeconfig, kubectl, a.seed_n, api)
    rows.append(("(a) seed loop: sed | kubectl apply", a.seed_n, secs))
    delete_set(a.kubeconfig, "bench-seed")

    secs = k8s_loop(a.kubeconfig, a.seed_n, api)
    rows.append(("(b) kubernetes.core.k8s loop", a.seed_n, secs))
    delete_set(a.kubeconfig, "bench-k8s")

    t0 = time.monotonic()
    res = module(
        "cluster_bulk",
        kubeconfig=a.kubeconfig,
        name="bench-bulk",
        count=a.n,
        qps=0,
        concurrency=32,
        topology={"class_name": "scalelab-in-memory", "version": "v1.35.4"},
    )
    wall = time.monotonic() - t0
    rows.append(("(c) cluster_bulk (module's create phase)", a.n, a.n / res["clusters_per_second"]))
    rows.append(("(c') cluster_bulk (ansible wall time)", a.n, wall))
    lat = res["calls"]["latency_ms"]
    delete_set(a.kubeconfig, "bench-bulk")

    r = raw(a.kubeconfig, a.n, api)
    if r["failed"]:
        sys.exit(f"raw client: {r['failed']} creates failed")
    rows.append(("(d) raw: client-go, 32 goroutines, no rate limit", a.n, r["seconds"]))
    delete_set(a.kubeconfig, "bench-raw")

    rate = {name: n / s for name, n, s in rows}
    print(f"\nCluster creation on {a.kubeconfig} ({api}), clusters/s:")
    for name, n, s in rows:
        print(f"  {name:52s} {n:5d} clusters {s:8.2f} s {n / s:8.1f}/s")
    bulk, seed, k8s, rawr = rate[rows[2][0]], rate[rows[0][0]], rate[rows[1][0]], rate[rows[4][0]]
    print(f"  cluster_bulk per-call latency ms: P50 {lat['p50']} P90 {lat['p90']} P99 {lat['p99']} max {lat['max']}")
    print("Ratios:")
    print(f"  cluster_bulk / seed loop         {bulk / seed:8.1f}x   (target >= 100x)")
    print(f"  cluster_bulk / k8s module loop   {bulk / k8s:8.1f}x")
    print(f"  cluster_bulk / raw client-go     {bulk / rawr * 100:8.1f}%   (target >= 60%)")
    print(f"  cluster_bulk with ansible start-up / seed loop {rate[rows[3][0]] / seed:8.1f}x")


if __name__ == "__main__":
    main()
