from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import stats


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 0, 7.0),
        ([7.0], 50, 7.0),
        ([7.0], 100, 7.0),
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([1, 2, 3, 4, 5], 50, 3),
        ([10, 20], 25, 12.5),
        (list(range(1, 101)), 99, 99.01),
        (list(range(1, 101)), 90, 90.1),
    ],
)
def test_percentile(values, q, expected):
    got = stats.percentile(values, q)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@pytest.mark.parametrize("q", [-0.1, 100.1, 1000])
def test_percentile_rejects_q(q):
    with pytest.raises(ValueError, match="must be within 0..100"):
        stats.percentile([1, 2, 3], q)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}),
        ([5], {"count": 1, "mean": 5, "p50": 5, "p90": 5, "p99": 5, "max": 5}),
        ([4, 1, 3, 2], {"count": 4, "mean": 2.5, "p50": 2.5, "p90": 3.7, "p99": 3.97, "max": 4}),
        ([1 / 3, 2 / 3], {"count": 2, "mean": 0.5, "p50": 0.5, "p90": 0.633, "p99": 0.663, "max": 0.667}),
    ],
)
def test_summary(values, expected):
    assert stats.summary(values) == expected


@pytest.mark.parametrize(
    ("durations", "fraction", "window", "first", "last", "pct"),
    [
        ([10.0] * 20, 0.1, 2, 10.0, 10.0, 0.0),
        ([10.0] * 10 + [20.0] * 10, 0.1, 2, 10.0, 20.0, 100.0),
        ([float(2**i) for i in range(10)], 0.1, 1, 1.0, 512.0, 51100.0),
        ([1.0, 2.0], 0.1, 1, 1.0, 2.0, 100.0),
        (list(range(1, 16)), 0.1, 2, 1.5, 14.5, 866.67),  # n=15: 1.5 rounds to a window of 2
        ([4.0, 3.0, 2.0, 1.0], 0.5, 2, 3.5, 1.5, -57.14),
        ([0.0, 0.0, 1.0], 0.1, 1, 0.0, 1.0, None),  # no baseline: no percentage
    ],
)
def test_drift(durations, fraction, window, first, last, pct):
    got = stats.drift(durations, fraction)
    assert got == {
        "count": len(durations),
        "window": window,
        "first_mean": first,
        "last_mean": last,
        "drift_pct": pct,
    }


@pytest.mark.parametrize("durations", [[], [3.0]])
def test_drift_needs_two(durations):
    assert stats.drift(durations) == {
        "count": len(durations),
        "window": 0,
        "first_mean": None,
        "last_mean": None,
        "drift_pct": None,
    }


@pytest.mark.parametrize("fraction", [0, -0.1, 0.51, 1])
def test_drift_rejects_fraction(fraction):
    with pytest.raises(ValueError, match="drift fraction"):
        stats.drift([1.0, 2.0], fraction)
