from __future__ import annotations

import random

import pytest
from ansible_collections.scalelab.capi.plugins.filter import metrics as metric_filters
from ansible_collections.scalelab.capi.plugins.module_utils.observe import soak
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, headline, html

T0 = 1_800_000_000
MIB = 2**20


def gauge(job, fn, start=0, stop=1800, step=30):
    return {"labels": {"job": job}, "points": [[T0 + t, fn(t)] for t in range(start, stop + 1, step)]}


def snap(*rss, goroutines=()):
    return {"process_resident_memory_bytes": {"series": list(rss)}, "goroutines": {"series": list(goroutines)}}


# The run ends at T0 + 100; the tail reaches T0 + 1800: a soak from T0 + 130 (a step short of a minute after it).
WINDOW = {"start": T0, "end": T0 + 100, "tail": 1700, "step": 30}


def test_a_leak_is_a_slope_well_over_its_error_and_a_flat_gauge_is_not():
    rng = random.Random(7)
    leaky = gauge("capi-core", lambda t: (200 + 12 * t / 3600 + rng.uniform(-0.5, 0.5)) * MIB)
    flat = gauge("kube-apiserver", lambda t: (900 + rng.uniform(-2, 2)) * MIB)
    # Creation's own growth before the soak (0-100 s) is not a leak: only the steady window is fitted.
    ramp = gauge("etcd", lambda t: (50 + t if t < 100 else 150) * MIB)
    threads = gauge("capi-core", lambda t: 300 + t // 600)
    s = soak.slopes(snap(leaky, flat, ramp, goroutines=[threads]), WINDOW)
    assert s["seconds"] == 1670.0
    core = s["jobs"]["capi-core"]
    # The true slope within three of its standard errors, the error small against the slope.
    assert abs(core["rss_mib_per_hour"] - 12) < 3 * core["rss_mib_per_hour_se"] < 3, core
    assert core["goroutines_per_hour"] == pytest.approx(6, abs=1)
    assert (
        abs(s["jobs"]["kube-apiserver"]["rss_mib_per_hour"])
        < 2 * s["jobs"]["kube-apiserver"]["rss_mib_per_hour_se"] + 1
    )
    assert s["jobs"]["etcd"]["rss_mib_per_hour"] == 0.0
    grew = soak.growing(s)
    assert [(j, n) for j, n, _b, _se in grew] == [
        ("capi-core", "rss_mib_per_hour"),
        ("capi-core", "goroutines_per_hour"),
    ]
    page = html._soak_section(s)
    assert page.startswith("<h2>Growing at rest (1670 s of soak)</h2>") and "capi-core" in page
    q, answer, cls = headline._soak(s)
    assert q == "Growing at rest" and answer.startswith("capi-core memory +12") and "of soak" in answer and cls == "bad"
    # Gates and baselines take them by name; the first play knows the names.
    flat_names = soak.metrics(s)
    assert flat_names["rss_mib_per_hour.capi-core"] == core["rss_mib_per_hour"]
    assert flat_names["rss_mib_per_hour"] == max(v["rss_mib_per_hour"] for v in s["jobs"].values())
    rows = gates.evaluate_gates(
        gates.metrics({"prometheus": {"summary": {"soak": s}}}), {"rss_mib_per_hour.capi-core": 5}
    )
    assert not rows[0]["ok"] and "breaks <= 5" in rows[0]["reason"]
    assert metric_filters.unknown_metrics(["rss_mib_per_hour.capi-core", "goroutines_per_hour", "rss_mib_per_day"]) == [
        "rss_mib_per_day"
    ]


@pytest.mark.parametrize(
    ("window", "why"),
    [
        ({"start": T0, "end": T0 + 100, "tail": 20, "step": 10}, "the test labs' 20 s tail: no steady state"),
        ({"start": T0, "end": T0 + 100, "tail": 150, "step": 10}, "90 s of steady state: under two minutes"),
    ],
)
def test_too_short_a_soak_fits_nothing(window, why):
    s = snap(gauge("capi-core", lambda t: t * MIB))
    assert soak.slopes(s, window) == {}, why
    assert headline._soak({}) is None and soak.metrics({}) == {}


def test_too_few_points_or_none_fit_nothing_and_rest_is_good_news():
    sparse = gauge("capi-core", lambda t: t * MIB, step=600)  # 3 points in the window
    assert soak.slopes(snap(sparse), WINDOW) == {}
    calm = soak.slopes(snap(gauge("capi-core", lambda t: 100 * MIB)), WINDOW)
    assert calm["jobs"]["capi-core"] == {"rss_mib_per_hour": 0.0, "rss_mib_per_hour_se": 0.0}
    assert headline._soak(calm) == (
        "Growing at rest",
        "nothing over 27 min 50 s of soak (every slope within 2 errors of 0)",
        "good",
    )


def test_a_run_gathered_while_still_converging_has_no_soak():
    # The tail of a run whose objects were not all ready holds their convergence, not a leak.
    leaky = gauge("capi-core", lambda t: 100 * MIB + t * MIB / 60)
    assert soak.slopes(snap(leaky), WINDOW)["jobs"]
    assert soak.slopes(snap(leaky), WINDOW, converged=False) == {}
