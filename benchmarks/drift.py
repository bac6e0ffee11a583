"""Drift of provisioning time with N on one running lab: for each N, create N clusters with the given pacing,
wait until all are ready, gather the results, print drift (first 10% vs last 10% by creation order), P50/P99
time to ready and wall time, then delete the set before the next N.

The Cluster API team held +2.3% from cluster 1 to 2,000; the seed loop here drifted +120% over 150 clusters.
Needs a lab (`ansible-playbook playbooks/scale.yml`); the lab's manager tuning is whatever it was converged with.

  .venv/bin/python benchmarks/drift.py --n 50 100 200 [--batch-size 10 --batch-pause 10] [--kubeconfig PATH]
  .venv/bin/python benchmarks/drift.py --n 300 --pacing fixed adaptive   # all at once, then adaptive; the ratios
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from common import LAB_KUBECONFIG, module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=LAB_KUBECONFIG)
    ap.add_argument("--n", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--batch-size", type=int, default=0)
    ap.add_argument("--batch-pause", type=float, default=0.0)
    ap.add_argument("--qps", type=float, default=100.0)
    ap.add_argument("--pacing", nargs="+", choices=["fixed", "adaptive"], default=["fixed"])
    ap.add_argument("--keep", action="store_true", help="keep the last set (no delete)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, pacing in ((n, pacing) for n in a.n for pacing in a.pacing):
            name = f"drift-{n}"
            module("cluster_bulk", kubeconfig=a.kubeconfig, name=name, state="absent")
            t0 = time.monotonic()
            created = module(
                "cluster_bulk",
                kubeconfig=a.kubeconfig,
                name=name,
                count=n,
                qps=a.qps,
                batch_size=a.batch_size,
                batch_pause=a.batch_pause,
                pacing=pacing,
                topology={"class_name": "scalelab-in-memory", "version": "v1.35.4"},
            )
            module("cluster_wait", kubeconfig=a.kubeconfig, name=name, count=n, machines=n, timeout=3600)
            wall = time.monotonic() - t0
            path = os.path.join(tmp, f"{name}.json")
            res = module("scale_results", kubeconfig=a.kubeconfig, label_selector=f"scalelab.io/set={name}", path=path)
            s = res["report"]["summary"]
            d = res["report"]["kinds"]["Cluster"]["drift"]
            rows.append((n, pacing, created["clusters_per_second"], wall, s, d))
            print(
                f"N={n}: created at {created['clusters_per_second']}/s, all ready after {wall:.0f} s; time to ready "
                f"P50 {s['cluster_p50_seconds']} s P99 {s['cluster_p99_seconds']} s; drift {s['drift_pct']}% "
                f"({d['first_mean']} s -> {d['last_mean']} s)",
                flush=True,
            )
            if created.get("pacing"):
                p = created["pacing"]
                print(
                    f"  adaptive: window {p['window']} (max {p['window_max']}), peak in flight {p['peak_in_flight']}, "
                    f"lab's own time to ready {p['base_seconds']} s, {len(p['changes'])} changes",
                    flush=True,
                )
            if not (a.keep and (n, pacing) == (a.n[-1], a.pacing[-1])):
                module("cluster_bulk", kubeconfig=a.kubeconfig, name=name, state="absent", delete_timeout=1800)
    fixed = f"batch {a.batch_size} / pause {a.batch_pause}s" if a.batch_size else "all at once"
    print("\n| N | pacing | create rate /s | wall s | P50 s | P99 s | drift first 10% vs last 10% |")
    print("|---|---|---|---|---|---|---|")
    walls = {}
    for n, pacing, rate, wall, s, d in rows:
        walls[(n, pacing)] = wall
        print(
            f"| {n} | {fixed if pacing == 'fixed' else pacing} | {rate} | {wall:.0f} | {s['cluster_p50_seconds']} | "
            f"{s['cluster_p99_seconds']} | {s['drift_pct']:+.1f}% ({d['first_mean']} s -> {d['last_mean']} s) |"
        )
    for n in a.n:
        if (n, "fixed") in walls and (n, "adaptive") in walls:
            print(f"N={n}: adaptive wall time / {fixed}: {walls[(n, 'adaptive')] / walls[(n, 'fixed')]:.2f}")


if __name__ == "__main__":
    main()
