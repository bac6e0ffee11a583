from __future__ import annotations

import math

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import sizing

NS = [10, 20, 40, 80, 160]


@pytest.mark.parametrize(
    ("curve", "model", "a", "b"),
    [
        (lambda n: 50 + 0.5 * n, "linear", 50, 0.5),
        (lambda n: 12 + 0.02 * n * math.log(n), "n_log_n", 12, 0.02),
        (lambda n: 0.1 + 0.004 * n, "linear", 0.1, 0.004),
        (lambda n: 7.0, "linear", 7, 0),  # flat: both fit exactly, linear is kept
    ],
)
def test_the_better_model_is_kept_with_its_coefficients(curve, model, a, b):
    f = sizing.best_fit([float(n) for n in NS], [curve(n) for n in NS])
    assert f["model"] == model
    assert f["a"] == pytest.approx(a, abs=1e-9) and f["b"] == pytest.approx(b, abs=1e-9)
    assert f["rmse"] == pytest.approx(0, abs=1e-9) and f["a_se"] == pytest.approx(0, abs=1e-9)
    value, se = sizing.predict(f, 15000)
    assert value == pytest.approx(curve(15000)) and se == pytest.approx(0, abs=1e-6)


def test_noise_gives_an_error_that_grows_away_from_the_runs():
    noise = [1.0, -1.0, 0.5, -0.5, 0.0]
    f = sizing.fit([float(n) for n in NS], [50 + 0.5 * n + e for n, e in zip(NS, noise, strict=True)], "linear")
    assert f["b"] == pytest.approx(0.5, abs=0.05) and f["b_se"] > 0
    near, far = sizing.predict(f, 50)[1], sizing.predict(f, 15000)[1]
    assert 0 < near < far


def doc(n, jobs, earlier=0, machine=None):
    managers = {j: {"cpu_cores_max": c, "rss_mib_max": m} for j, (c, m) in jobs.items()}
    d = {"summary": {"clusters": n}, "prometheus": {"summary": {"managers": managers}}}
    if earlier:
        d["earlier"] = {"Cluster": earlier}
    if machine:
        d["run"] = {"machine": machine}
    return d


def test_n_counts_what_earlier_runs_left_and_runs_without_a_snapshot_are_left_out():
    docs = [
        ("a", doc(10, {"capi-core": (0.1, 60)})),
        ("b", doc(10, {"capi-core": (0.2, 65)}, earlier=10)),
        ("c", {"summary": {"clusters": 30}}),
        ("d", doc(0, {"capi-core": (0.1, 60)})),
    ]
    assert [(p["path"], p["n"]) for p in sizing.points(docs, "cluster")] == [("a", 10), ("b", 20)]


MACHINE = {"cores": 2, "memory_bytes": 4 * 2**30}


def runs(ns):
    # capi-core: 0.001 cores and 2 MiB per cluster over 0.05 cores and 40 MiB; kcp 0.002 cores, 1 MiB.
    return [
        (
            f"r{n}",
            doc(
                n,
                {"capi-core": (0.05 + 0.001 * n, 40 + 2 * n), "capi-control-plane": (0.002 * n, 30 + n)},
                machine=MACHINE,
            ),
        )
        for n in ns
    ]


def test_sizing_predicts_states_and_says_what_runs_out_first():
    result = sizing.sizing(sizing.points(runs([10, 20, 30]), "cluster"), [1000, 5000], sizing.STATED)
    rows = {(r["component"], r["resource"]): r for r in result["fits"]}
    core_mem = rows[("capi-core", "memory_mib")]
    assert core_mem["predicted"]["1000"]["value"] == pytest.approx(2040)
    assert core_mem["stated"] == {"at": 1000, "value": 8192, "measured": pytest.approx(2040), "ratio": 0.249}
    assert rows[("capi-control-plane", "cpu_cores")]["predicted"]["5000"]["value"] == pytest.approx(10)
    # cores: 0.05 + 0.003 N reaches 2 at N = 650, past it from 651; memory: 70 + 3 N past 4096 MiB from 1,343
    assert result["runs_out"] == {"resource": "cpu_cores", "n": 651, "capacity": 2}
    text = sizing.markdown(result, "cluster")
    assert "| capi-core | memory_mib | linear |" in text and "runs out of **CPU cores** first" in text
    assert "at about 651 clusters" in text


def test_a_falling_fit_predicts_zero_not_less():
    pts = sizing.points([(f"r{n}", doc(n, {"node": (0.01 - 0.0001 * n, 20)})) for n in (10, 20, 30)], "cluster")
    row = next(r for r in sizing.sizing(pts, [1000], {})["fits"] if r["resource"] == "cpu_cores")
    assert row["b"] < 0 and row["predicted"]["1000"]["value"] == 0.0


def test_nothing_runs_out_on_a_big_machine():
    big = {"cores": 512, "memory_bytes": 2**50}
    pts = [{**p, "machine": big} for p in sizing.points(runs([10, 20, 30]), "cluster")]
    result = sizing.sizing(pts, [1000], {})
    assert result["runs_out"] is None and all("stated" not in r for r in result["fits"])
    assert "Neither this machine's cores nor its memory run out below 1,000 clusters" in sizing.markdown(
        result, "cluster"
    )


@pytest.mark.parametrize(
    ("ns", "match"),
    [
        ([10, 20], r"^the runs hold 2 size\(s\) \(10, 20\): a fit needs 3 or more sizes"),
        ([10, 10, 10], r"hold 1 size\(s\) \(10\)"),
        ([], r"hold 0 size\(s\) \(none\)"),
    ],
)
def test_too_few_sizes_are_refused(ns, match):
    with pytest.raises(sizing.SizingError, match=match):
        sizing.sizing(sizing.points(runs(ns), "cluster"), [1000], {})
