# Copyright: scalelab contributors
# Apache-2.0
"""Sizing: each component's peak CPU and memory against the number of objects the lab held, from runs at three or
more sizes; a straight line and an N log N curve fitted by least squares, the better one kept with its standard
errors, and extrapolated (with a prediction error) to sizes the lab cannot hold; beside the figures a scaling guide
states, and the first resource of this machine the sum runs out of.

The inputs are results JSONs with a Prometheus snapshot: N is the run's objects plus those earlier runs of the set
left (the lab held all of them), a component's value its peak over the run (what requests and limits are sized by).
"""

from __future__ import annotations

import math

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

MODELS = {
    "linear": float,
    "n_log_n": lambda n: n * math.log(n) if n > 0 else 0.0,
}
RESOURCES = {"cpu_cores": "cpu_cores_max", "memory_mib": "rss_mib_max"}
UNIT_KINDS = {"cluster": ("clusters", "Cluster"), "host": ("hosts", "BareMetalHost")}
# The scaling guide's figures for 1,000 clusters, as the capacity issue quotes them; an inventory can give others.
STATED = {
    "capi-core": {"at": 1000, "cpu_cores": 4, "memory_mib": 8192},
    "capi-control-plane": {"at": 1000, "cpu_cores": 4, "memory_mib": 8192},
}


class SizingError(ScalelabError):
    """Too few runs or bad input; the message names the option."""


class TooFewSizes(SizingError):
    """The runs hold fewer sizes than a fit needs (a scenario skips the sizing until they do)."""


def held(doc: dict, unit: str) -> int:
    """Objects of the unit the lab held at the run's end: the run's own and the earlier runs' ones."""
    key, kind = UNIT_KINDS[unit]
    return int((doc.get("summary") or {}).get(key) or 0) + int((doc.get("earlier") or {}).get(kind) or 0)


def points(docs: list[tuple[str, dict]], unit: str) -> list[dict]:
    """One point per run: {n, path, jobs: {job: {cpu_cores, memory_mib}}, machine}; runs without a snapshot or an
    object of the unit are left out."""
    out = []
    for path, doc in docs:
        managers = (((doc.get("prometheus") or {}).get("summary") or {}).get("managers")) or {}
        n = held(doc, unit)
        if n <= 0 or not managers:
            continue
        jobs = {}
        for job, m in managers.items():
            values = {r: m.get(k) for r, k in RESOURCES.items()}
            if any(isinstance(v, (int, float)) for v in values.values()):
                jobs[job] = values
        out.append({"n": n, "path": path, "jobs": jobs, "machine": (doc.get("run") or {}).get("machine") or {}})
    return sorted(out, key=lambda p: p["n"])


def fit(xs: list[float], ys: list[float], model: str) -> dict:
    """Least squares y = a + b * f(x): a, b, their standard errors, the residuals' RMS and what predict() needs."""
    fx = [MODELS[model](x) for x in xs]
    n = len(xs)
    mx, my = sum(fx) / n, sum(ys) / n
    sxx = sum((f - mx) ** 2 for f in fx)
    if sxx == 0:
        raise SizingError("the runs have one size only: a fit needs three or more sizes")
    b = sum((f - mx) * (y - my) for f, y in zip(fx, ys, strict=True)) / sxx
    a = my - b * mx
    ssr = sum((y - a - b * f) ** 2 for f, y in zip(fx, ys, strict=True))
    s2 = ssr / (n - 2) if n > 2 else 0.0
    return {
        "model": model,
        "a": a,
        "b": b,
        "a_se": math.sqrt(s2 * (1 / n + mx**2 / sxx)),
        "b_se": math.sqrt(s2 / sxx),
        "rmse": math.sqrt(ssr / n),
        "_s2": s2,
        "_n": n,
        "_mx": mx,
        "_sxx": sxx,
    }


def predict(f: dict, x: float) -> tuple[float, float]:
    """The fitted value at x and its standard error (of the line there, growing with the distance from the data)."""
    fx = MODELS[f["model"]](x)
    se = math.sqrt(f["_s2"] * (1 / f["_n"] + (fx - f["_mx"]) ** 2 / f["_sxx"]))
    return f["a"] + f["b"] * fx, se


def best_fit(xs: list[float], ys: list[float]) -> dict:
    """The model with the smaller residuals (both have two parameters); linear when they tie."""
    fits = [fit(xs, ys, m) for m in MODELS]
    best = min(fits, key=lambda f: (round(f["rmse"], 12), f["model"] != "linear"))
    best["other_rmse"] = next(f["rmse"] for f in fits if f is not best)
    return best


def _public(f: dict) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in f.items() if not k.startswith("_")}


def sizing(pts: list[dict], targets: list[int], stated: dict, min_sizes: int = 3) -> dict:
    """Per component and resource the kept fit and its predictions at targets; the stated figures beside them; and
    the first resource of the machine the components' sum runs out of."""
    sizes = sorted({p["n"] for p in pts})
    if len(sizes) < min_sizes:
        raise TooFewSizes(
            f"the runs hold {len(sizes)} size(s) ({', '.join(map(str, sizes)) or 'none'}): a fit needs {min_sizes} "
            "or more sizes of runs with a Prometheus snapshot"
        )
    rows = []
    jobs = sorted({j for p in pts for j in p["jobs"]})
    for job in jobs:
        for res in RESOURCES:
            data = [
                (p["n"], p["jobs"][job][res])
                for p in pts
                if isinstance((p["jobs"].get(job) or {}).get(res), (int, float))
            ]
            if len({n for n, _dummy in data}) < min_sizes:
                continue
            f = best_fit([float(n) for n, _dummy in data], [float(v) for _dummy, v in data])
            row = {"component": job, "resource": res, **_public(f), "sizes": [n for n, _dummy in data]}
            row["predicted"] = {}
            for t in targets:
                value, se = predict(f, t)
                # a falling fit (a component N does not load, e.g. node_exporter) would go below zero
                row["predicted"][str(t)] = {"value": round(max(0.0, value), 3), "error": round(se, 3)}
            st = stated.get(job) or {}
            if isinstance(st.get(res), (int, float)) and st.get("at"):
                value, _dummy = predict(f, st["at"])
                row["stated"] = {"at": st["at"], "value": st[res], "measured": round(value, 3)}
                row["stated"]["ratio"] = round(value / st[res], 3) if st[res] else None
            rows.append(row)
    machine = next((p["machine"] for p in reversed(pts) if p["machine"]), {})
    return {
        "sizes": sizes,
        "targets": targets,
        "fits": rows,
        "machine": machine,
        "runs_out": runs_out(rows, machine, max(targets + sizes)),
    }


def runs_out(rows: list[dict], machine: dict, limit: int) -> dict | None:
    """The first of the machine's cores and memory that the components' summed predictions exceed, and at what N
    (searched up to limit); None when neither runs out or the machine is unknown."""
    capacity = {"cpu_cores": machine.get("cores"), "memory_mib": (machine.get("memory_bytes") or 0) / 2**20 or None}
    first = None
    for res, cap in capacity.items():
        fits = [r for r in rows if r["resource"] == res]
        if not cap or not fits:
            continue

        def total(n, fits=fits):
            return sum(r["a"] + r["b"] * MODELS[r["model"]](n) for r in fits)

        if total(limit) <= cap:
            continue
        lo, hi = 1, limit
        while lo < hi:  # the smallest N whose sum is past the capacity (the sums grow with N)
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if total(mid) <= cap else (lo, mid)
        if first is None or lo < first["n"]:
            first = {"resource": res, "n": lo, "capacity": round(cap, 1)}
    return first


def markdown(result: dict, unit: str) -> str:
    """The sizing table: measured sizes, the kept model and its error, predictions with their errors, stated."""
    targets = result["targets"]
    out = [
        f"# Sizing from runs at {', '.join(map(str, result['sizes']))} {unit}s",
        "",
        "Peak CPU (cores) and memory (MiB) per component against the "
        f"{unit}s the lab held; the better of a linear and an N log N least-squares fit, +- one standard error.",
        "",
        "| component | resource | model | rmse | "
        + " | ".join(f"at {t:,}" for t in targets)
        + " | stated (at) | measured / stated |",
        "|---|---|---|---|" + "---|" * len(targets) + "---|---|",
    ]
    for r in result["fits"]:
        preds = [f"{r['predicted'][str(t)]['value']:.4g} +- {r['predicted'][str(t)]['error']:.2g}" for t in targets]
        st = r.get("stated")
        stated = f"{st['value']:g} ({st['at']:,})" if st else "-"
        ratio = f"{st['ratio']:.2f}" if st and st.get("ratio") is not None else "-"
        cells = [r["component"], r["resource"], r["model"], f"{r['rmse']:.3g}", *preds, stated, ratio]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    first = result.get("runs_out")
    m = result.get("machine") or {}
    if first:
        what = "CPU cores" if first["resource"] == "cpu_cores" else "memory (MiB)"
        out.append(
            f"This machine ({m.get('cores')} cores, {(m.get('memory_bytes') or 0) / 2**30:.1f} GiB) runs out of "
            f"**{what}** first: the components' peaks add up past {first['capacity']:g} at about "
            f"{first['n']:,} {unit}s."
        )
    elif m:
        out.append(f"Neither this machine's cores nor its memory run out below {max(targets):,} {unit}s by these fits.")
    return "\n".join(out) + "\n"
