from __future__ import annotations

import json
import re

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import interactive, plots

STEP = plots.trace("step", [0.0, 1.0], [0, 1], name="created")


@pytest.mark.parametrize(
    ("trace", "want"),
    [
        (STEP, {"type": "scatter", "mode": "lines", "line": {"shape": "hv", "width": 1.5, "color": None}}),
        (plots.trace("line", [1], [2], name="capi-core"), {"type": "scatter", "mode": "lines", "name": "capi-core"}),
        (plots.trace("points", [1], [2], color="#4c72b0"), {"mode": "markers", "showlegend": False}),
        (plots.trace("hist", [1.0, 2.0], bins=5), {"type": "histogram", "nbinsx": 5, "x": [1.0, 2.0]}),
        (plots.trace("bar", ["qps=20", 7], [1, 2]), {"type": "bar", "x": ["qps=20", "7"], "y": [1, 2]}),
        (plots.trace("barh", [1.5], ["pkg.F"]), {"type": "bar", "orientation": "h", "x": [1.5], "y": ["pkg.F"]}),
    ],
)
def test_each_kind_of_trace_becomes_its_plotly_trace(trace, want):
    got = interactive.figure(plots.chart("t", "x", "y", [trace]))["data"][0]
    assert {k: got.get(k) for k in want} == want


def test_marks_are_shapes_with_legend_entries():
    c = plots.by_creation_order(
        [float(i) for i in range(10)], {"window": 1, "first_mean": 0.0, "last_mean": 9.0, "drift_pct": 900.0}, "T"
    )
    layout = interactive.figure(c)["layout"]
    rects = [s for s in layout["shapes"] if s["type"] == "rect"]
    assert [(r["x0"], r["x1"], r["name"]) for r in rects] == [
        (0.5, 1.5, "first 1: mean 0.0 s"),
        (9.5, 10.5, "last 1: mean 9.0 s"),
    ]
    assert layout["title"]["text"] == "T (drift +900.0%)"
    dist = interactive.figure(plots.distribution([1.0, 2.0], {"p50": 1.5, "p99": 2.0}, "D"))["layout"]["shapes"]
    assert [(s["x0"], s["line"]["dash"], s["showlegend"]) for s in dist] == [(1.5, "dash", True), (2.0, "dot", True)]


def test_a_page_embeds_the_library_once_and_escapes_its_data():
    bars = plots.chart("f", "s", "", [plots.trace("barh", [1.0], ["a</script><b>"])])
    markup, scripts = interactive.page_parts([("one", "One <plot>", [bars, bars]), ("two", "Two", [bars])])
    assert markup.count('<div class="plot">') == 3 and "One &lt;plot&gt;" in markup
    with open(interactive.LIBRARY) as f:
        lib = f.read()
    assert scripts.count(lib) == 1 and lib.count("</script") == 0
    data = re.search(r'id="charts">(.*?)</script>', scripts, re.S).group(1)
    assert "</script" not in data and json.loads(data)[0]["data"][0]["y"] == ["a</script><b>"]


def test_a_page_without_charts_carries_no_library():
    markup, scripts = interactive.page_parts([])
    assert markup == "" and len(scripts) < 2000 and "Plotly.newPlot" in scripts


def test_stages_stack_per_cohort_in_both_drawings():
    b = {
        "stages": [
            "infrastructure",
            "certificates",
            "control_plane_initialized",
            "control_plane_available",
            "nodes",
            "ready",
        ],
        "cohorts": [
            {
                "from": 1,
                "to": 10,
                "mean_seconds": {
                    "infrastructure": 1.0,
                    "certificates": 0.5,
                    "control_plane_initialized": 4.0,
                    "control_plane_available": 1.0,
                    "nodes": 2.0,
                    "ready": 0.5,
                },
            },
            {
                "from": 11,
                "to": 11,
                "mean_seconds": {
                    "infrastructure": 1.0,
                    "certificates": 0.5,
                    "control_plane_initialized": 9.0,
                    "control_plane_available": 1.0,
                    "nodes": 2.0,
                    "ready": 0.5,
                },
            },
        ],
    }
    c = plots.stages_by_creation(b)
    fig = interactive.figure(c)
    assert fig["layout"]["barmode"] == "stack"
    assert [t["name"] for t in fig["data"]][:3] == ["infrastructure ready", "certificates", "control plane initialized"]
    assert fig["data"][2]["x"] == ["1-10", "11"] and fig["data"][2]["y"] == [4.0, 9.0]
    assert plots.png([c]).startswith(b"\x89PNG")
    assert plots.stages_by_creation({"cohorts": []}) is None
